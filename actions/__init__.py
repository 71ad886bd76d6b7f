"""Custom actions run by the rasa-sdk action server (one class per module)."""
