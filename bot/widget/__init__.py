"""The web chat widget (网页在线客服): an embeddable script and its demo page.

    <script src="http://WIDGET/widget.js" data-rasa-url="http://RASA:5005" defer></script>

One script tag on any page gives a chat window that talks to Rasa's socket.io
channel directly from the browser. ``bot.widget.app.create_app`` serves the
script (with the vendored socket.io client inside it), its stylesheet and a
demo page; ``python -m bot.widget`` runs it on ``widget_host:widget_port``.
Importing this package reads no file and starts nothing.
"""
