"""WeCom callback cryptography (the WXBizMsgCrypt scheme), implemented from the protocol.

Signature: SHA1 of the sorted concatenation of token, timestamp, nonce and the
encrypted text. Payload: AES-256-CBC with the key from the 43-character
EncodingAESKey (base64 with one '=' added) and the first 16 key bytes as IV;
plaintext = 16 random bytes + 4-byte big-endian length + message + corp id,
padded PKCS#7 to a multiple of 32 bytes. Decryption checks the corp id.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import struct

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

BLOCK = 32


class WeComCryptoError(ValueError):
    """A callback that fails the signature, the decryption or the corp id check."""


def signature(token: str, timestamp: str, nonce: str, encrypted: str) -> str:
    return hashlib.sha1("".join(sorted([token, timestamp, nonce, encrypted])).encode()).hexdigest()


def _pad(data: bytes) -> bytes:
    amount = BLOCK - len(data) % BLOCK
    return data + bytes([amount]) * amount


def _unpad(data: bytes) -> bytes:
    if not data:
        raise WeComCryptoError("empty plaintext")
    amount = data[-1]
    if not 1 <= amount <= BLOCK or data[-amount:] != bytes([amount]) * amount:
        raise WeComCryptoError("bad padding")
    return data[:-amount]


class WeComCrypto:
    def __init__(self, token: str, encoding_aes_key: str, corp_id: str) -> None:
        try:
            key = base64.b64decode(encoding_aes_key + "=", validate=True)
        except binascii.Error as exc:
            raise WeComCryptoError("WECOM_AES_KEY is not a 43-character EncodingAESKey") from exc
        if len(key) != 32:
            raise WeComCryptoError("WECOM_AES_KEY must decode to 32 bytes")
        self.token = token
        self.key = key
        self.corp_id = corp_id

    def _cipher(self) -> Cipher:
        return Cipher(algorithms.AES(self.key), modes.CBC(self.key[:16]))

    def verify(self, msg_signature: str, timestamp: str, nonce: str, encrypted: str) -> None:
        expected = signature(self.token, timestamp, nonce, encrypted)
        if not hmac.compare_digest(expected, msg_signature or ""):
            raise WeComCryptoError("signature mismatch")

    def decrypt(self, encrypted: str) -> str:
        try:
            raw = base64.b64decode(encrypted, validate=True)
        except binascii.Error as exc:
            raise WeComCryptoError("encrypted text is not base64") from exc
        if not raw or len(raw) % 16:
            raise WeComCryptoError("encrypted text has a bad length")
        decryptor = self._cipher().decryptor()
        plain = _unpad(decryptor.update(raw) + decryptor.finalize())
        if len(plain) < 20:
            raise WeComCryptoError("plaintext too short")
        (length,) = struct.unpack(">I", plain[16:20])
        message, receiver = plain[20 : 20 + length], plain[20 + length :]
        if len(message) != length:
            raise WeComCryptoError("message length does not match")
        if receiver.decode("utf-8", "replace") != self.corp_id:
            raise WeComCryptoError("corp id mismatch")
        return message.decode("utf-8")

    def encrypt(self, message: str, random16: bytes | None = None) -> str:
        body = message.encode("utf-8")
        plain = (
            (random16 or os.urandom(16))
            + struct.pack(">I", len(body))
            + body
            + self.corp_id.encode()
        )
        encryptor = self._cipher().encryptor()
        return base64.b64encode(encryptor.update(_pad(plain)) + encryptor.finalize()).decode()

    def open_callback(self, msg_signature: str, timestamp: str, nonce: str, encrypted: str) -> str:
        """Verify and decrypt one callback field (echostr or the XML's Encrypt)."""
        self.verify(msg_signature, timestamp, nonce, encrypted)
        return self.decrypt(encrypted)

    def seal_reply(self, message: str, timestamp: str, nonce: str) -> str:
        """A passive reply: the encrypted XML envelope WeCom expects back."""
        encrypted = self.encrypt(message)
        sign = signature(self.token, timestamp, nonce, encrypted)
        return (
            f"<xml><Encrypt><![CDATA[{encrypted}]]></Encrypt>"
            f"<MsgSignature><![CDATA[{sign}]]></MsgSignature>"
            f"<TimeStamp>{timestamp}</TimeStamp><Nonce><![CDATA[{nonce}]]></Nonce></xml>"
        )
