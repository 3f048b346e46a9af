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

Usage: python3 tests/corpus/external.py SEED COUNT PROFILES IDS > tests/fixtures/pii/external-SEED.jsonl
(the fixtures: COUNT 3000, PROFILES 700, IDS 400; see `profile` and `national`)
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




# Personal names and postal addresses (kinds `person_name` and `address`),
# in the shapes of published APIs: Shopify customer webhooks, Stripe
# billing details, Google People API persons, OpenID Connect userinfo,
# Salesforce contacts, and form posts in log lines. Labels follow the
# issue's definition: values under name keys (first, last, full, given,
# family, surname, legal) and the parts of postal addresses (street and
# address lines, postcodes, and every field of an address object). A bare
# `name` (a product's, a room's, Stripe's cardholder) is out of scope:
# neither labelled nor a negative. Generated after the other frames from
# their own seed, so those frames stay as they were.

def profile(g):
    f, r = g.faker(), g.rng
    planted = []

    def v(kind, value):
        planted.append((kind, value))
        return f"\u27e6{len(planted) - 1}\u27e7"

    def neg(value):
        planted.append((None, value))
        return f"\u27e6{len(planted) - 1}\u27e7"

    street, city, zipc = f.street_address(), f.city(), f.postcode()
    shape = r.randrange(7)
    if shape == 0:  # Shopify customers/create webhook
        body = {"id": r.randrange(10**12), "email": v("email", f.email()), "first_name": v("person_name", f.first_name()),
                "last_name": v("person_name", f.last_name()), "orders_count": r.randrange(9),
                "default_address": {"address1": v("address", street), "city": v("address", city),
                                    "zip": v("address", zipc), "country_code": v("address", f.country_code())}}
    elif shape == 1:  # Stripe PaymentMethod billing_details
        body = {"id": "pm_" + uuid.UUID(int=r.getrandbits(128)).hex[:24], "type": "card",
                "billing_details": {"address": {"city": v("address", city), "country": v("address", f.country_code()),
                                                "line1": v("address", street), "postal_code": v("address", zipc)},
                                    "email": v("email", f.email()), "name": f.name()}}
    elif shape == 2:  # Google People API person
        body = {"resourceName": f"people/c{r.randrange(10**18)}",
                "names": [{"givenName": v("person_name", f.first_name()), "familyName": v("person_name", f.last_name()),
                           "displayName": f.name()}],
                "addresses": [{"streetAddress": v("address", street), "city": v("address", city),
                               "postalCode": v("address", zipc)}],
                "emailAddresses": [{"value": v("email", f.email())}]}
    elif shape == 3:  # OpenID Connect userinfo
        body = {"sub": str(r.randrange(10**15)), "name": f.name(), "given_name": v("person_name", f.first_name()),
                "family_name": v("person_name", f.last_name()), "email": v("email", f.email()),
                "address": {"street_address": v("address", street), "locality": v("address", city),
                            "postal_code": v("address", zipc), "country": v("address", f.country())}}
    elif shape == 4:  # Salesforce Contact
        body = {"attributes": {"type": "Contact"}, "FirstName": v("person_name", f.first_name()),
                "LastName": v("person_name", f.last_name()), "MailingStreet": v("address", street),
                "MailingPostalCode": v("address", zipc), "Title": f.job()}
    elif shape == 5:  # a product, a room and a user handle: no person, no place
        body = {"type": "catalog", "product": {"name": neg(f.word().capitalize() + " " + f.word()), "sku": neg(f"SKU-{r.randrange(10**6)}")},
                "room": {"name": neg(f.word())}, "username": neg(f.user_name()), "file_name": neg(f.file_name()),
                "wallet_address": neg("0x" + hashlib.sha1(str(r.random()).encode()).hexdigest())}
        return fill(json.dumps(body, ensure_ascii=False), planted)
    else:  # a form post in a log line
        form = f"first_name={v('person_name', f.first_name())}&surname={v('person_name', f.last_name())}&zip={v('address', zipc)}"
        return fill(f"{g.en.iso8601()}Z INFO POST /signup {form} status=201", planted, form_encoded=True)
    return fill(json.dumps({"type": "event", "data": body}, ensure_ascii=False), planted)


def fill(body, planted, form_encoded=False, marks_in_text=False):
    labels, negatives = [], []
    for k, (kind, value) in enumerate(planted):
        mark = f"\u27e6{k}\u27e7"
        if form_encoded:
            value = value.replace(" ", "+").replace("&", "%26")
        elif not marks_in_text:
            value = json.dumps(value, ensure_ascii=False)[1:-1]
        at = body.index(mark)
        start = len(body[:at].encode())
        body = body.replace(mark, value, 1)
        span = [start, start + len(value.encode())]
        if kind is None:
            negatives.append(span)
        else:
            labels.append([kind] + span)
    labels.sort(key=lambda l: l[1])
    return {"text": body, "labels": labels, "negatives": negatives}


# National identifiers with checksums (kinds `br_cpf`, `us_itin`,
# `in_aadhaar`, `pl_pesel`, `uk_nhs`, `es_nif`) in their written forms, and
# bare after their names (PESEL and NHS always are): Faker's pt_BR CPFs,
# en_US ITINs, pl_PL PESELs, es_ES NIFs and NIEs, NHS numbers by NHS
# Digital's mod-11 rule,
# and Aadhaar numbers with UIDAI's Verhoeff check digit over random digits
# (Faker's en_IN `aadhaar_id` computes a Luhn digit instead, so its numbers
# are not valid). Hard negatives: CPFs, PESELs and bare NHS numbers with a
# wrong check digit, NIFs with a wrong letter,
# PESELs without the word, 9xx numbers
# outside the IRS's ITIN groups, twelve digits in fours starting 1 (none
# is issued; a leading 0 would be a trunk prefix, and such numbers phone
# numbers in some countries).

VERHOEFF_D = [[0, 1, 2, 3, 4, 5, 6, 7, 8, 9], [1, 2, 3, 4, 0, 6, 7, 8, 9, 5], [2, 3, 4, 0, 1, 7, 8, 9, 5, 6],
              [3, 4, 0, 1, 2, 8, 9, 5, 6, 7], [4, 0, 1, 2, 3, 9, 5, 6, 7, 8], [5, 9, 8, 7, 6, 0, 4, 3, 2, 1],
              [6, 5, 9, 8, 7, 1, 0, 4, 3, 2], [7, 6, 5, 9, 8, 2, 1, 0, 4, 3], [8, 7, 6, 5, 9, 3, 2, 1, 0, 4],
              [9, 8, 7, 6, 5, 4, 3, 2, 1, 0]]
VERHOEFF_P = [[0, 1, 2, 3, 4, 5, 6, 7, 8, 9], [1, 5, 7, 6, 2, 8, 3, 0, 9, 4], [5, 8, 0, 3, 7, 9, 6, 1, 4, 2],
              [8, 9, 1, 6, 0, 4, 3, 5, 2, 7], [9, 4, 5, 3, 1, 2, 6, 8, 7, 0], [4, 2, 8, 6, 5, 7, 3, 9, 0, 1],
              [2, 7, 9, 3, 8, 0, 6, 4, 1, 5], [7, 0, 4, 6, 9, 1, 3, 2, 5, 8]]
VERHOEFF_INV = [0, 4, 3, 2, 1, 5, 6, 7, 8, 9]


def aadhaar(r):
    body = str(r.randrange(2, 10)) + "".join(str(r.randrange(10)) for _ in range(10))
    c = 0
    for i, d in enumerate(reversed(body)):
        c = VERHOEFF_D[c][VERHOEFF_P[(i + 1) % 8][int(d)]]
    n = body + str(VERHOEFF_INV[c])
    return " ".join(n[i:i + 4] for i in range(0, 12, 4)) if r.random() < 0.7 else "-".join(n[i:i + 4] for i in range(0, 12, 4))


def bad_nif(g):
    """A NIF whose control letter is wrong."""
    nif = g.fakers["es_ES"].nif()
    letters = "TRWAGMYFPDXBNJZSQVHLCKE"
    return nif[:-1] + letters[(letters.index(nif[-1]) + 1) % 23]


def bad_nhs(r):
    """Ten bare digits whose NHS check fails."""
    n = nhs(r)
    return n[:-1] + str((int(n[-1]) + 1) % 10)


def nhs(r):
    """A ten-digit NHS number with its mod-11 check digit (NHS Digital's rule)."""
    while True:
        body = [r.randrange(10) for _ in range(9)]
        check = 11 - sum(d * (10 - i) for i, d in enumerate(body)) % 11
        if check != 10:
            return "".join(map(str, body)) + str(0 if check == 11 else check)


def national(g):
    r = g.rng
    br, us = g.fakers["pt_BR"], g.en
    planted = []
    pl = g.fakers["pl_PL"]
    for _ in range(r.randrange(1, 3)):
        kind = r.choice(["br_cpf", "us_itin", "in_aadhaar", "pl_pesel", "es_nif", "bare"])
        if kind == "bare":
            # Bare digits after the identifier's name, as people write them.
            n = nhs(r)
            kind, word, value = r.choice([("pl_pesel", "PESEL", pl.pesel()), ("br_cpf", "CPF", br.cpf().replace(".", "").replace("-", "")),
                                          ("in_aadhaar", "Aadhaar", aadhaar(r).replace(" ", "").replace("-", "")),
                                          ("uk_nhs", "NHS number", n), ("uk_nhs", "NHS no", f"{n[:3]} {n[3:6]} {n[6:]}")])
            planted.append((None, word, kind, value))
            continue
        es = g.fakers["es_ES"]
        value = {"br_cpf": br.cpf, "us_itin": us.itin, "in_aadhaar": lambda: aadhaar(r), "pl_pesel": pl.pesel,
                 "es_nif": lambda: r.choice([es.nif, es.nie])()}[kind]()
        if kind == "pl_pesel":
            planted.append((None, "PESEL", kind, value))
        else:
            planted.append((kind, value))
    if r.random() < 0.7:
        cpf, pesel = br.cpf(), pl.pesel()
        bad = [cpf[:-1] + str((int(cpf[-1]) + 1) % 10),
               f"9{r.randrange(10)}{r.randrange(10)}-{r.choice([r.randrange(10, 50), r.randrange(66, 70), 89, 93])}-{r.randrange(10**4):04d}",
               f"1{r.randrange(100, 1000)} {r.randrange(1000, 10000)} {r.randrange(1000, 10000)}",
               pesel,  # eleven bare digits without the word PESEL
               ("PESEL", pesel[:-1] + str((int(pesel[-1]) + 1) % 10)),
               ("NHS", bad_nhs(r)),
               bad_nif(g)]
        choice = r.choice(bad)
        if isinstance(choice, tuple):
            planted.append((None, choice[0], None, choice[1]))
        else:
            planted.append((None, choice))
    # Entries with a word before the value: (None, word, kind, value).
    planted = [p if len(p) == 2 else ("word", p) for p in planted]
    r.shuffle(planted)
    marks, flat = [], []
    for p in planted:
        if p[0] == "word":
            _, word, kind, value = p[1]
            marks.append(f"{word} \u27e6{len(flat)}\u27e7")
            flat.append((kind, value))
        else:
            marks.append(f"\u27e6{len(flat)}\u27e7")
            flat.append(p)
    planted = flat
    text = " ".join([g.prose()] + [f"{m} {g.prose()}" for m in marks])
    shape = r.randrange(3)
    if shape == 0:
        body = json.dumps({"type": "chat", "room": "kyc", "text": text}, ensure_ascii=False)
    elif shape == 1:
        body = f"{g.en.iso8601()}Z INFO kyc note=\"{text}\""
    else:
        body = text
    return fill(body, planted, form_encoded=False, marks_in_text=True)


def main_with_profiles():
    seed, count = int(sys.argv[1]), int(sys.argv[2])
    g = Gen(seed)
    for _ in range(count):
        print(json.dumps(frame(g), ensure_ascii=False))
    p = Gen(seed * 7919 + 1)
    for _ in range(int(sys.argv[3]) if len(sys.argv) > 3 else 0):
        print(json.dumps(profile(p), ensure_ascii=False))
    n = Gen(seed * 7919 + 2)
    for _ in range(int(sys.argv[4]) if len(sys.argv) > 4 else 0):
        print(json.dumps(national(n), ensure_ascii=False))


if __name__ == "__main__":
    main_with_profiles()
