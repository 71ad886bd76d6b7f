"""Signatures, safe-mode crypto and safe XML for WeChat callbacks.

WeChat signs every callback with SHA-1 over the sorted (token, timestamp,
nonce) and, in safe mode (安全模式), also over the ``Encrypt`` element
(``msg_signature``). The signer and the AES scheme are wechatpy's; the
comparison is ours, in constant time. Every XML body is first parsed by
defusedxml with DTDs forbidden (no entity expansion, no external entities),
and only then handed to wechatpy, whose parser (xmltodict) has no such guard.
"""
from __future__ import annotations

import base64
import binascii
import hmac
import xml.etree.ElementTree as ElementTree
from typing import Dict, Optional, Tuple

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring as defused_fromstring
from wechatpy import parse_message
from wechatpy.crypto import PrpCrypto, WeChatCrypto
from wechatpy.exceptions import InvalidAppIdException
from wechatpy.messages import BaseMessage
from wechatpy.utils import WeChatSigner


class BadRequest(Exception):
    """The callback is malformed (HTTP 400). Messages never carry personal data."""


class Forbidden(Exception):
    """The callback is not from WeChat for this account (HTTP 403)."""


def sign(token: str, timestamp: str, nonce: str, *extra: str) -> str:
    """WeChat's signature: SHA-1 hex of the sorted, concatenated values."""
    signer = WeChatSigner()
    signer.add_data(token, timestamp, nonce, *extra)
    return signer.signature


def signature_matches(
    given: Optional[str], token: str, timestamp: Optional[str], nonce: Optional[str], *extra: str
) -> bool:
    """Whether ``given`` is the signature of these values (constant-time compare)."""
    if not (given and token and timestamp and nonce):
        return False
    expected = sign(token, timestamp, nonce, *extra)
    return hmac.compare_digest(expected.encode("ascii"), given.strip().lower().encode("utf-8", "replace"))


def parse_xml(body: bytes) -> ElementTree.Element:
    """The ``<xml>`` root of a WeChat body; DTDs, entities and anything not
    well-formed are refused."""
    try:
        root = defused_fromstring(body, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as error:
        raise BadRequest(f"forbidden XML construct ({type(error).__name__})") from None
    except (ElementTree.ParseError, ValueError, TypeError):
        raise BadRequest("malformed XML") from None
    if root.tag != "xml":
        raise BadRequest("unexpected XML root")
    return root


def parse_wechat_message(xml: bytes) -> Tuple[BaseMessage, Dict[str, str]]:
    """A wechatpy message (or event) from a plaintext WeChat XML body, and
    the body's top-level fields as text (ids, sender, time)."""
    root = parse_xml(xml)  # the defused check comes first
    fields = {child.tag: (child.text or "").strip() for child in root if len(child) == 0}
    missing = [name for name in ("ToUserName", "FromUserName", "MsgType") if not fields.get(name)]
    if missing:
        raise BadRequest(f"no {', '.join(missing)}")
    try:
        message = parse_message(xml.decode("utf-8"))
        message.type  # noqa: B018 - the fields wechatpy converts must convert
        message.source
    except Exception:  # xmltodict/wechatpy raise anything on odd shapes
        raise BadRequest("not a WeChat message") from None
    if message is None:
        raise BadRequest("empty message")
    return message, fields


def _aes_key(encoding_aes_key: str) -> bytes:
    try:
        key = base64.b64decode(encoding_aes_key + "=", validate=True)
    except (binascii.Error, ValueError):
        key = b""
    if len(encoding_aes_key) != 43 or len(key) != 32:
        raise ValueError("EncodingAESKey must be 43 characters of base64 (32 bytes)")
    return key


class SafeModeCrypto:
    """Safe mode (安全模式) for one official account: AES-256-CBC as WeChat
    specifies it, through wechatpy."""

    def __init__(self, token: str, encoding_aes_key: str, app_id: str) -> None:
        if not app_id:
            raise ValueError("safe mode needs the AppID")
        self._key = _aes_key(encoding_aes_key)
        self._token = token
        self._app_id = app_id
        self._crypto = WeChatCrypto(token, encoding_aes_key, app_id)

    def decrypt(self, body: bytes, msg_signature: Optional[str], timestamp: str, nonce: str) -> bytes:
        """The plaintext XML inside an encrypted callback body."""
        envelope = parse_xml(body)
        encrypted = (envelope.findtext("Encrypt") or "").strip()
        if not encrypted:
            raise BadRequest("no Encrypt element")
        if not signature_matches(msg_signature, self._token, timestamp, nonce, encrypted):
            raise Forbidden("bad msg_signature")
        try:
            plaintext = PrpCrypto(self._key).decrypt(encrypted, self._app_id)
        except InvalidAppIdException:
            raise Forbidden("message for another AppID") from None
        except Exception:  # bad base64, bad padding, truncated, not UTF-8
            raise BadRequest("undecryptable Encrypt") from None
        return plaintext.encode("utf-8")

    def encrypt(self, xml: str, nonce: str, timestamp: Optional[str] = None) -> str:
        """The encrypted, signed reply envelope for a plaintext reply."""
        return self._crypto.encrypt_message(xml, nonce, timestamp)
