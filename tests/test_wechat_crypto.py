"""WeChat signatures and safe-mode crypto against published vectors, and the
XML guards. Each vector is copied exactly from its source (cited above it).
The channel's wrapper (bot.channels.wechat_security, on wechatpy) and the
simulator's own implementation from the specification must both agree."""
from __future__ import annotations

import xml.etree.ElementTree as ElementTree

import pytest
from wechatpy.crypto import PrpCrypto

from bot.channels.wechat_render import passive_text_reply
from bot.channels.wechat_security import (
    BadRequest,
    Forbidden,
    SafeModeCrypto,
    parse_wechat_message,
    parse_xml,
    sign,
    signature_matches,
)
from wechat_simulator import BILLION_LAUGHS, EXTERNAL_ENTITY, SpecCrypto, wechat_signature

# --- wechatpy's own tests, tests/test_utils.py (wechatpy/wechatpy on GitHub):
# test_check_signature_should_ok / _should_fail and test_wechat_card_signer.
WECHATPY_SIGNATURE = {"token": "test", "timestamp": "1410685589", "nonce": "test",
                      "signature": "f21891de399b4e33a1a93c9a7b8a8fffb5a443ff"}
WECHATPY_WRONG_SIGNATURE = "f21891de399b4e33a1a93c9a7b8a8fffb5a443fe"
WECHATPY_SIGNER = (("789", "456", "123"), "f7c3bc1d808e04732adf679965ccc34ca7ae3441")

# --- wechatpy's tests/test_crypto.py (CryptoTestCase): the same AES scheme,
# with corp_id in the AppID's place. test_decrypt_message and
# test_encrypt_message (PrpCryptoMock's random string "1234567890123456").
WECHATPY_TOKEN = "123456"
WECHATPY_AES_KEY = "kWxPEV2UEDyxWpmPdKC3F4dgPDmOvfKX1HGnEUDS1aR"
WECHATPY_APP_ID = "wx49f0ab532d5d035a"
WECHATPY_ENCRYPTED_XML = """<xml><ToUserName><![CDATA[wx49f0ab532d5d035a]]></ToUserName>
<Encrypt><![CDATA[RgqEoJj5A4EMYlLvWO1F86ioRjZfaex/gePD0gOXTxpsq5Yj4GNglrBb8I2BAJVODGajiFnXBu7mCPatfjsu6IHCrsTyeDXzF6Bv283dGymzxh6ydJRvZsryDyZbLTE7rhnus50qGPMfp2wASFlzEgMW9z1ef/RD8XzaFYgm7iTdaXpXaG4+BiYyolBug/gYNx410cvkKR2/nPwBiT+P4hIiOAQqGp/TywZBtDh1yCF2KOd0gpiMZ5jSw3e29mTvmUHzkVQiMS6td7vXUaWOMZnYZlF3So2SjHnwh4jYFxdgpkHHqIrH/54SNdshoQgWYEvccTKe7FS709/5t6NMxuGhcUGAPOQipvWTT4dShyqio7mlsl5noTrb++x6En749zCpQVhDpbV6GDnTbcX2e8K9QaNWHp91eBdCRxthuL0=]]></Encrypt>
<AgentID><![CDATA[1]]></AgentID>
</xml>"""
WECHATPY_MSG_SIGNATURE = "74d92dfeb87ba7c714f89d98870ae5eb62dff26d"
WECHATPY_TIMESTAMP = "1411525903"
WECHATPY_NONCE = "461056294"
WECHATPY_REPLY = """<xml>
<MsgType><![CDATA[text]]></MsgType>
<Content><![CDATA[test]]></Content>
<FromUserName><![CDATA[wx49f0ab532d5d035a]]></FromUserName>
<ToUserName><![CDATA[messense]]></ToUserName>
<AgentID>1</AgentID>
<CreateTime>1411525903</CreateTime>
</xml>"""
WECHATPY_ENCRYPTED_REPLY = """<xml>
<Encrypt><![CDATA[9s4gMv99m88kKTh/H8IdkOiMg6bisoy3ypwy9H4hvSPe9nsGaqyw5hhSjdYbcrKk+j3nba4HMOTzHrluLBYqxgNcBqGsL8GqxlhZgURnAtObvesEl5nZ+uBE8bviY0LWke8Zy9V/QYKxNV2FqllNXcfmstttyIkMKCCmVbCFM2JTF5wY0nFhHZSjPUL2Q1qvSUCUld+/WIXrx0oyKQmpB6o8NRrrNrsDf03oxI1p9FxUgMnwKKZeOA/uu+2IEvEBtb7muXsVbwbgX05UPPJvFurDXafG0RQyPR+mf1nDnAtQmmNOuiR5MIkdQ39xn1vWwi1O5oazPoQJz0nTYjxxEE8kv3kFxtAGVRe3ypD3WeK2XeFYFMNMpatF9XiKzHo3]]></Encrypt>
<MsgSignature><![CDATA[407518b7649e86ef23978113f92d27afa9296533]]></MsgSignature>
<TimeStamp>1411525903</TimeStamp>
<Nonce><![CDATA[461056294]]></Nonce>
</xml>"""

# --- Tencent's official sample for official accounts (公众平台消息加解密示例代码,
# Python, "Copyright (c) 1998-2014 Tencent Inc.", Sample.py, the decryption
# test: 测试解密接口).
TENCENT_TOKEN = "spamtest"
TENCENT_AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
TENCENT_APP_ID = "wx2c2769f8efd9abc2"
TENCENT_TIMESTAMP = "1409735669"
TENCENT_NONCE = "1320562132"
TENCENT_MSG_SIGNATURE = "5d197aaffba7e9b25a30732f161a50dee96bd5fa"
TENCENT_FROM_XML = """<xml><ToUserName><![CDATA[gh_10f6c3c3ac5a]]></ToUserName><FromUserName><![CDATA[oyORnuP8q7ou2gfYjqLzSIWZf0rs]]></FromUserName><CreateTime>1409735668</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[abcdteT]]></Content><MsgId>6054768590064713728</MsgId><Encrypt><![CDATA[hyzAe4OzmOMbd6TvGdIOO6uBmdJoD0Fk53REIHvxYtJlE2B655HuD0m8KUePWB3+LrPXo87wzQ1QLvbeUgmBM4x6F8PGHQHFVAFmOD2LdJF9FrXpbUAh0B5GIItb52sn896wVsMSHGuPE328HnRGBcrS7C41IzDWyWNlZkyyXwon8T332jisa+h6tEDYsVticbSnyU8dKOIbgU6ux5VTjg3yt+WGzjlpKn6NPhRjpA912xMezR4kw6KWwMrCVKSVCZciVGCgavjIQ6X8tCOp3yZbGpy0VxpAe+77TszTfRd5RJSVO/HTnifJpXgCSUdUue1v6h0EIBYYI1BD1DlD+C0CR8e6OewpusjZ4uBl9FyJvnhvQl+q5rv1ixrcpCumEPo5MJSgM9ehVsNPfUM669WuMyVWQLCzpu9GhglF2PE=]]></Encrypt></xml>"""

# --- Tencent's official Java sample (WXBizMsgCryptTest.java, shipped with
# WXBizMsgCrypt): testAesEncrypt and testAesEncrypt2, random string fixed.
JAVA_TOKEN = "pamtest"
JAVA_AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
JAVA_APP_ID = "wxb11529c136998cb6"
JAVA_RANDOM = "aaaabbbbccccdddd"
JAVA_REPLY_1 = "我是中文abcd123"
JAVA_ENCRYPTED_1 = "jn1L23DB+6ELqJ+6bruv21Y6MD7KeIfP82D6gU39rmkgczbWwt5+3bnyg5K55bgVtVzd832WzZGMhkP72vVOfg=="
JAVA_REPLY_2 = "<xml><ToUserName><![CDATA[oia2Tj我是中文jewbmiOUlr6X-1crbLOvLw]]></ToUserName><FromUserName><![CDATA[gh_7f083739789a]]></FromUserName><CreateTime>1407743423</CreateTime><MsgType><![CDATA[video]]></MsgType><Video><MediaId><![CDATA[eYJ1MbwPRJtOvIEabaxHs7TX2D-HV71s79GUxqdUkjm6Gs2Ed1KF3ulAOA9H1xG0]]></MediaId><Title><![CDATA[testCallBackReplyVideo]]></Title><Description><![CDATA[testCallBackReplyVideo]]></Description></Video></xml>"
JAVA_ENCRYPTED_2 = "jn1L23DB+6ELqJ+6bruv23M2GmYfkv0xBh2h+XTBOKVKcgDFHle6gqcZ1cZrk3e1qjPQ1F4RsLWzQRG9udbKWesxlkupqcEcW7ZQweImX9+wLMa0GaUzpkycA8+IamDBxn5loLgZpnS7fVAbExOkK5DYHBmv5tptA9tklE/fTIILHR8HLXa5nQvFb3tYPKAlHF3rtTeayNf0QuM+UW/wM9enGIDIJHF7CLHiDNAYxr+r+OrJCmPQyTy8cVWlu9iSvOHPT/77bZqJucQHQ04sq7KZI27OcqpQNSto2OdHCoTccjggX5Z9Mma0nMJBU+jLKJ38YB1fBIz+vBzsYjrTmFQ44YfeEuZ+xRTQwr92vhA9OxchWVINGC50qE/6lmkwWTwGX9wtQpsJKhP+oS7rvTY8+VdzETdfakjkwQ5/Xka042OlUb1/slTwo4RscuQ+RdxSGvDahxAJ6+EAjLt9d8igHngxIbf6YyqqROxuxqIeIch3CssH/LqRs+iAcILvApYZckqmA7FNERspKA5f8GoJ9sv8xmGvZ9Yrf57cExWtnX8aCMMaBropU/1k+hKP5LVdzbWCG0hGwx/dQudYR/eXp3P0XxjlFiy+9DMlaFExWUZQDajPkdPrEeOwofJb"

# --- The same Java sample's testVerifyUrl (the callback-URL example of
# WeChat Work's documentation, 回调配置): a signature over four values.
VERIFY_TOKEN = "QDG6eK"
VERIFY_AES_KEY = "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C"
VERIFY_ID = "wx5823bf96d3bd56c7"
VERIFY_SIGNATURE = "5c45ff5e21c57e6ad56bac8758b79b1d9ac89fd3"
VERIFY_TIMESTAMP = "1409659589"
VERIFY_NONCE = "263014780"
VERIFY_ECHOSTR = "P9nAzCzyDtyTWESHep1vC5X9xho/qYX3Zpb4yKa9SKld1DsH3Iyt3tP3zNdtp+4RPcs8TgAE7OaBO+FZXvnaqQ=="


def test_callback_signature_matches_wechatpys_vector():
    v = WECHATPY_SIGNATURE
    assert sign(v["token"], v["timestamp"], v["nonce"]) == v["signature"]
    assert wechat_signature(v["token"], v["timestamp"], v["nonce"]) == v["signature"]
    assert signature_matches(v["signature"], v["token"], v["timestamp"], v["nonce"])
    assert signature_matches(v["signature"].upper(), v["token"], v["timestamp"], v["nonce"])


def test_a_wrong_or_missing_signature_does_not_match():
    v = WECHATPY_SIGNATURE
    assert not signature_matches(WECHATPY_WRONG_SIGNATURE, v["token"], v["timestamp"], v["nonce"])
    assert not signature_matches(v["signature"], v["token"], v["timestamp"], "other")
    assert not signature_matches(v["signature"], "", v["timestamp"], v["nonce"])
    assert not signature_matches(None, v["token"], v["timestamp"], v["nonce"])
    assert not signature_matches(v["signature"], v["token"], None, v["nonce"])
    assert not signature_matches("签名" * 20, v["token"], v["timestamp"], v["nonce"])


def test_signatures_are_compared_in_constant_time(monkeypatch):
    import bot.channels.wechat_security as security

    compared = []
    real = security.hmac.compare_digest

    def spy(a, b):
        compared.append((a, b))
        return real(a, b)

    monkeypatch.setattr(security.hmac, "compare_digest", spy)
    v = WECHATPY_SIGNATURE
    assert security.signature_matches(v["signature"], v["token"], v["timestamp"], v["nonce"])
    assert compared


def test_the_signer_sorts_its_values_as_in_wechatpys_vector():
    values, expected = WECHATPY_SIGNER
    assert wechat_signature(*values) == expected
    # sign() takes (token, timestamp, nonce): the order must not matter.
    assert sign(*values) == expected


def test_a_four_value_signature_matches_the_documented_url_example():
    assert sign(VERIFY_TOKEN, VERIFY_TIMESTAMP, VERIFY_NONCE, VERIFY_ECHOSTR) == VERIFY_SIGNATURE
    assert signature_matches(VERIFY_SIGNATURE, VERIFY_TOKEN, VERIFY_TIMESTAMP, VERIFY_NONCE, VERIFY_ECHOSTR)
    message, receiver = SpecCrypto(VERIFY_AES_KEY, VERIFY_ID).decrypt(VERIFY_ECHOSTR)
    assert receiver == VERIFY_ID and message.isdigit()


def test_safe_mode_decrypts_tencents_official_sample():
    crypto = SafeModeCrypto(TENCENT_TOKEN, TENCENT_AES_KEY, TENCENT_APP_ID)
    xml = crypto.decrypt(TENCENT_FROM_XML.encode(), TENCENT_MSG_SIGNATURE, TENCENT_TIMESTAMP, TENCENT_NONCE)
    message, fields = parse_wechat_message(xml)
    assert (message.type, message.content, message.source) == ("text", "abcdteT", "oyORnuP8q7ou2gfYjqLzSIWZf0rs")
    assert fields["MsgId"] == "6054768590064713728"
    # The simulator's own implementation agrees.
    encrypted = ElementTree.fromstring(TENCENT_FROM_XML).findtext("Encrypt")
    assert wechat_signature(TENCENT_TOKEN, TENCENT_TIMESTAMP, TENCENT_NONCE, encrypted) == TENCENT_MSG_SIGNATURE
    assert SpecCrypto(TENCENT_AES_KEY, TENCENT_APP_ID).decrypt(encrypted) == (xml.decode(), TENCENT_APP_ID)


def test_safe_mode_decrypts_wechatpys_vector():
    crypto = SafeModeCrypto(WECHATPY_TOKEN, WECHATPY_AES_KEY, WECHATPY_APP_ID)
    xml = crypto.decrypt(WECHATPY_ENCRYPTED_XML.encode(), WECHATPY_MSG_SIGNATURE, WECHATPY_TIMESTAMP, WECHATPY_NONCE)
    root = ElementTree.fromstring(xml)
    assert (root.findtext("Content"), root.findtext("FromUserName")) == ("test", "messense")


def test_safe_mode_refuses_a_bad_msg_signature_before_decrypting():
    crypto = SafeModeCrypto(TENCENT_TOKEN, TENCENT_AES_KEY, TENCENT_APP_ID)
    with pytest.raises(Forbidden):
        crypto.decrypt(TENCENT_FROM_XML.encode(), "0" * 40, TENCENT_TIMESTAMP, TENCENT_NONCE)
    with pytest.raises(Forbidden):
        crypto.decrypt(TENCENT_FROM_XML.encode(), TENCENT_MSG_SIGNATURE, TENCENT_TIMESTAMP, "1")


def test_safe_mode_refuses_a_message_for_another_account():
    crypto = SafeModeCrypto(TENCENT_TOKEN, TENCENT_AES_KEY, "wx0000000000000000")
    with pytest.raises(Forbidden):
        crypto.decrypt(TENCENT_FROM_XML.encode(), TENCENT_MSG_SIGNATURE, TENCENT_TIMESTAMP, TENCENT_NONCE)


def test_safe_mode_rejects_garbage_that_is_signed():
    crypto = SafeModeCrypto(TENCENT_TOKEN, TENCENT_AES_KEY, TENCENT_APP_ID)
    for encrypted in ("not base64!", "QUJD", "A" * 64):
        body = f"<xml><Encrypt><![CDATA[{encrypted}]]></Encrypt></xml>".encode()
        signature = sign(TENCENT_TOKEN, "1", "2", encrypted)
        with pytest.raises((BadRequest, Forbidden)):
            crypto.decrypt(body, signature, "1", "2")


def test_encryption_matches_wechatpys_vector(monkeypatch):
    monkeypatch.setattr(PrpCrypto, "get_random_string", lambda self: "1234567890123456")
    crypto = SafeModeCrypto(WECHATPY_TOKEN, WECHATPY_AES_KEY, WECHATPY_APP_ID)
    assert crypto.encrypt(WECHATPY_REPLY, WECHATPY_NONCE, WECHATPY_TIMESTAMP) == WECHATPY_ENCRYPTED_REPLY
    encrypted = ElementTree.fromstring(WECHATPY_ENCRYPTED_REPLY).findtext("Encrypt")
    spec = SpecCrypto(WECHATPY_AES_KEY, WECHATPY_APP_ID)
    assert spec.encrypt(WECHATPY_REPLY, random_prefix=b"1234567890123456") == encrypted


@pytest.mark.parametrize("message, expected", [(JAVA_REPLY_1, JAVA_ENCRYPTED_1), (JAVA_REPLY_2, JAVA_ENCRYPTED_2)])
def test_encryption_matches_tencents_java_sample(monkeypatch, message, expected):
    monkeypatch.setattr(PrpCrypto, "get_random_string", lambda self: JAVA_RANDOM)
    crypto = SafeModeCrypto(JAVA_TOKEN, JAVA_AES_KEY, JAVA_APP_ID)
    envelope = ElementTree.fromstring(crypto.encrypt(message, "xxxxxx", "1409304348"))
    assert envelope.findtext("Encrypt") == expected
    assert envelope.findtext("MsgSignature") == wechat_signature(JAVA_TOKEN, "1409304348", "xxxxxx", expected)
    assert SpecCrypto(JAVA_AES_KEY, JAVA_APP_ID).encrypt(message, random_prefix=JAVA_RANDOM.encode()) == expected
    assert SpecCrypto(JAVA_AES_KEY, JAVA_APP_ID).decrypt(expected) == (message, JAVA_APP_ID)


def test_a_reply_round_trips_through_the_simulators_decryption():
    crypto = SafeModeCrypto(JAVA_TOKEN, JAVA_AES_KEY, JAVA_APP_ID)
    reply = passive_text_reply("您好 ]]> <b>&", account="gh_7f083739789a", openid="oia2TjjewbmiOUlr6X-1crbLOvLw")
    envelope = ElementTree.fromstring(crypto.encrypt(reply, "42"))
    plain, app_id = SpecCrypto(JAVA_AES_KEY, JAVA_APP_ID).decrypt(envelope.findtext("Encrypt"))
    assert app_id == JAVA_APP_ID
    assert ElementTree.fromstring(plain).findtext("Content") == "您好 ]]> <b>&"


def test_an_invalid_encoding_aes_key_is_refused_at_start():
    for key in ("abcde", "!" * 43, JAVA_AES_KEY + "A"):
        with pytest.raises(ValueError):
            SafeModeCrypto(JAVA_TOKEN, key, JAVA_APP_ID)


def test_cdata_in_a_passive_reply_cannot_break_the_xml():
    text = "结尾]]><ToUserName>x</ToUserName><![CDATA[ & ]]]]>"
    reply = passive_text_reply(text, account="gh_abc", openid="oUser_123456")
    root = ElementTree.fromstring(reply)
    assert root.findtext("Content") == text
    assert root.findtext("ToUserName") == "oUser_123456"
    assert root.findtext("MsgType") == "text"


@pytest.mark.parametrize(
    "body",
    [
        BILLION_LAUGHS,
        EXTERNAL_ENTITY,
        b'<!DOCTYPE xml SYSTEM "http://127.0.0.1:1/x.dtd"><xml><MsgType>text</MsgType></xml>',
        b"<xml><MsgType>text</MsgType>",
        b"",
        b"\xff\xfe<xml/>",
        b"<other><MsgType>text</MsgType></other>",
        b"<xml><Content>no type</Content></xml>",
        b"<xml><MsgType><x>nested</x></MsgType></xml>",
    ],
)
def test_hostile_or_malformed_xml_is_rejected_before_wechatpy_parses_it(body):
    with pytest.raises(BadRequest):
        parse_wechat_message(body)


def test_a_well_formed_message_parses():
    root = parse_xml(b"<xml><MsgType><![CDATA[text]]></MsgType></xml>")
    assert root.findtext("MsgType") == "text"
