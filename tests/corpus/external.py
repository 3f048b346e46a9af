#!/usr/bin/env python3
"""A labelled corpus of WebSocket frames from outside sources, for the PII
scrubber's quality numbers (tests/pii.rs, `external_corpus_*`).

Values come from data the scrubber's authors did not write:
- Faker (PyPI `faker`) in twelve locales: emails, IBANs, US SSNs, IPv4/IPv6
  and MAC addresses, Luhn-valid card numbers, and prose around them;
- libphonenumber's example numbers (PyPI `phonenumbers`) for every region
  and number type, in E.164 and international format, and in national
  format for the regions whose national formats the scrubber documents;
- card brands' published test numbers (payment processors' docs).

Frames wrap them as chat messages, nested events, GraphQL over WebSocket
(graphql-transport-ws `subscribe`/`next`), Socket.IO, STOMP, log lines and
escaped JSON. Hard negatives (order ids, timestamps, prices, versions,
UUIDs, hashes, ISBNs, Luhn-failing numbers, GraphQL variable declarations)
are labelled with their ranges, which must stay clean.

Usage: python3 tests/corpus/external.py SEED COUNT > tests/fixtures/pii/external-SEED.jsonl
Each line: {"text": ..., "labels": [[kind, start, end], ...], "negatives": [[start, end], ...]}
with UTF-8 byte offsets. Seed 1 is for tuning, seed 2 for reporting.
"""

import hashlib
import json
import random
import sys
import uuid

import phonenumbers
from faker import Faker
from phonenumbers import PhoneNumberFormat, PhoneNumberType

LOCALES = ["en_US", "en_GB", "de_DE", "fr_FR", "es_ES", "it_IT", "nl_NL", "pt_BR", "ja_JP", "hi_IN", "pl_PL", "sv_SE"]

# Published test card numbers (Stripe, Adyen, PayPal and brand documentation).
TEST_CARDS = [
    "4242424242424242", "4000056655665556", "5555555555554444", "2223003122003222", "5200828282828210",
    "5105105105105100", "378282246310005", "371449635398431", "6011111111111117", "6011000990139424",
    "3056930009020004", "36227206271667", "3566002020360505", "6200000000000005", "4111111111111111",
    "4012888888881881", "5425233430109903", "2222420000001113", "374245455400126", "6445644564456445",
]

# Regions whose national formats the scrubber documents (see `Kind::Phone`).
NATIONAL = ["US", "CA", "GB", "DE", "FR", "ES", "NL", "IE", "IN", "JP", "AU", "BR"]

TYPES = [
    PhoneNumberType.FIXED_LINE, PhoneNumberType.MOBILE, PhoneNumberType.TOLL_FREE, PhoneNumberType.PREMIUM_RATE,
    PhoneNumberType.SHARED_COST, PhoneNumberType.VOIP, PhoneNumberType.PERSONAL_NUMBER, PhoneNumberType.UAN,
]


def phones():
    """Every region's example numbers, formatted as people and systems write them."""
    out = []
    for region in sorted(phonenumbers.SUPPORTED_REGIONS):
        for t in TYPES:
            n = phonenumbers.example_number_for_type(region, t)
            if n is None:
                continue
            out.append(phonenumbers.format_number(n, PhoneNumberFormat.E164))
            out.append(phonenumbers.format_number(n, PhoneNumberFormat.INTERNATIONAL))
            if region in NATIONAL and t in (PhoneNumberType.FIXED_LINE, PhoneNumberType.MOBILE):
                out.append(phonenumbers.format_number(n, PhoneNumberFormat.NATIONAL))
    return sorted(set(out))


class Gen:
    def __init__(self, seed):
        self.rng = random.Random(seed)
        Faker.seed(seed)
        self.fakers = {loc: Faker(loc) for loc in LOCALES}
        self.en = self.fakers["en_US"]
        self.phones = phones()

    def faker(self):
        return self.fakers[self.rng.choice(LOCALES)]

    def value(self, kind):
        f, r = self.faker(), self.rng
        if kind == "email":
            return r.choice([f.email, f.free_email, f.company_email, f.safe_email])()
        if kind == "phone":
            return r.choice(self.phones)
        if kind == "credit_card":
            number = r.choice(TEST_CARDS) if r.random() < 0.5 else self.en.credit_card_number()
            style = r.randrange(3)
            if style == 0 or len(number) not in (16,):
                return number
            groups = [number[i:i + 4] for i in range(0, 16, 4)]
            return (" " if style == 1 else "-").join(groups)
        if kind == "iban":
            loc = r.choice(["de_DE", "fr_FR", "es_ES", "it_IT", "nl_NL", "en_GB", "pl_PL", "sv_SE", "pt_BR"])
            iban = self.fakers[loc].iban()
            if r.random() < 0.5:
                return iban
            return " ".join(iban[i:i + 4] for i in range(0, len(iban), 4))
        if kind == "us_ssn":
            return self.en.ssn()
        if kind == "ipv4":
            return r.choice([self.en.ipv4_private, self.en.ipv4_public])()
        if kind == "ipv6":
            import ipaddress
            v6 = self.en.ipv6()
            return str(ipaddress.IPv6Address(v6)) if r.random() < 0.5 else v6
        if kind == "mac":
            mac = self.en.mac_address()
            return mac.upper() if r.random() < 0.5 else mac.replace(":", "-")
        if kind == "jwt":
            def b64(obj):
                import base64
                return base64.urlsafe_b64encode(json.dumps(obj, separators=(",", ":")).encode()).rstrip(b"=").decode()
            header = b64({"alg": r.choice(["HS256", "RS256", "ES256"]), "typ": "JWT"})
            payload = b64({"sub": str(r.randrange(10**6)), "name": self.en.name(), "iat": 1700000000 + r.randrange(10**7)})
            sig = hashlib.sha256(str(r.random()).encode()).digest()
            import base64
            return f"{header}.{payload}.{base64.urlsafe_b64encode(sig).rstrip(b'=').decode()}"
        raise ValueError(kind)

    def negative(self):
        f, r = self.faker(), self.rng
        choices = [
            lambda: f"ORD-{r.randrange(2015, 2027)}-{r.randrange(10**6):06d}",
            lambda: str(1_600_000_000_000 + r.randrange(10**11)),
            lambda: str(1_600_000_000 + r.randrange(10**8)),
            lambda: self.en.iso8601(),
            lambda: f.date(),
            lambda: self.en.time(),
            lambda: self.en.pricetag(),
            lambda: f"{r.randrange(20)}.{r.randrange(40)}.{r.randrange(200)}",
            lambda: str(uuid.UUID(int=r.getrandbits(128))),
            lambda: hashlib.md5(str(r.random()).encode()).hexdigest(),
            lambda: hashlib.sha1(str(r.random()).encode()).hexdigest(),
            lambda: self.en.isbn13(),
            lambda: self.en.ean13(),
            lambda: luhn_failing(r),
            lambda: "query ($email: String!, $phone: String) { user(email: $email) { id } }",
            lambda: f"#{r.randrange(10**5, 10**6)}",
            lambda: f.postcode(),
        ]
        return r.choice(choices)()

    def prose(self):
        return self.faker().sentence(nb_words=self.rng.randrange(3, 9))


def luhn_failing(r):
    while True:
        digits = "4" + "".join(str(r.randrange(10)) for _ in range(15))
        if not luhn(digits):
            return digits


def luhn(d):
    total = 0
    for i, c in enumerate(reversed(d)):
        v = int(c)
        if i % 2 == 1:
            v = v * 2 - 9 if v * 2 > 9 else v * 2
        total += v
    return total % 10 == 0


KINDS = ["email", "phone", "credit_card", "iban", "us_ssn", "ipv4", "ipv6", "mac", "jwt"]
# Context words before bare values that need them are not needed here: every
# planted value is in a format the scrubber documents as found without one.


def frame(g):
    """One frame with placeholders for values and negatives, then filled."""
    r = g.rng
    planted = []
    n = r.randrange(0, 3)
    for _ in range(n):
        kind = r.choice(KINDS)
        planted.append(("pii", kind, g.value(kind)))
    if r.random() < 0.6:
        planted.append(("neg", None, g.negative()))
    r.shuffle(planted)
    marks = [f"⟦{k}⟧" for k in range(len(planted))]
    text = " ".join([g.prose()] + [f"{m} {g.prose()}" for m in marks])
    shape = r.randrange(8)
    if shape == 0:
        body = json.dumps({"type": "chat", "room": "lobby", "from": g.en.user_name(), "text": text}, ensure_ascii=False)
    elif shape == 1:
        body = json.dumps({"event": "profile.updated", "data": {"user": {"id": str(uuid.UUID(int=r.getrandbits(128))), "bio": text}}, "ts": 1700000000000 + r.randrange(10**9)}, ensure_ascii=False)
    elif shape == 2:
        body = json.dumps({"id": str(r.randrange(100)), "type": "next", "payload": {"data": {"messageAdded": {"body": text}}}}, ensure_ascii=False)
    elif shape == 3:
        body = "42" + json.dumps(["message", {"text": text, "at": 1700000000000 + r.randrange(10**9)}], ensure_ascii=False)
    elif shape == 4:
        body = f"{g.en.iso8601()}Z INFO ws msg=\"{text}\" conn={r.randrange(10**4)}"
    elif shape == 5:
        body = "MESSAGE\ndestination:/topic/chat\ncontent-type:application/json\n\n" + json.dumps({"text": text}, ensure_ascii=False) + "\u0000"
    elif shape == 6:
        inner = json.dumps({"text": text}, ensure_ascii=False)
        body = json.dumps({"type": "relay", "data": inner}, ensure_ascii=False)
    else:
        body = text
    labels, negatives = [], []
    for mark, (what, kind, value) in zip(marks, planted):
        at = body.index(mark)
        start = len(body[:at].encode())
        body = body.replace(mark, value, 1)
        span = [start, start + len(value.encode())]
        if what == "pii":
            labels.append([kind] + span)
        else:
            negatives.append(span)
    labels.sort(key=lambda l: l[1])
    return {"text": body, "labels": labels, "negatives": negatives}


def main():
    seed, count = int(sys.argv[1]), int(sys.argv[2])
    g = Gen(seed)
    for _ in range(count):
        print(json.dumps(frame(g), ensure_ascii=False))


if __name__ == "__main__":
    main()
