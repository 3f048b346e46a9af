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

Usage: python3 tests/corpus/external.py SEED COUNT PROFILES IDS MORE_IDS > tests/fixtures/pii/external-SEED.jsonl
(the fixtures: COUNT 3000, PROFILES 700, IDS 400, MORE_IDS 700; see `profile`, `national` and
`more_ids`. Faker's values depend on the day it runs, so blocks were appended as they were added:
COUNT 0 PROFILES 0 IDS 0 MORE_IDS 700 gives the last block alone.)
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
    elif shape == 5:  # a product, a room, a user handle and a wallet: no person, no place
        body = {"type": "catalog", "product": {"name": neg(f.word().capitalize() + " " + f.word()), "sku": neg(f"SKU-{r.randrange(10**6)}")},
                "room": {"name": neg(f.word())}, "username": neg(f.user_name()), "file_name": neg(f.file_name()),
                "wallet_address": v("crypto_address", "0x" + hashlib.sha1(str(r.random()).encode()).hexdigest())}
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
    planted = [p if len(p) == 2 else ("word", p[1:]) for p in planted]
    r.shuffle(planted)
    return kyc_frame(g, planted)


def kyc_frame(g, planted):
    """A chat, log or text frame of prose with the planted values, in order:
    `(kind, value)` (kind None for a negative), or `("word", (word, kind,
    value))` for a value written after a word."""
    r = g.rng
    marks, flat = [], []
    for p in planted:
        if p[0] == "word":
            word, kind, value = p[1]
            marks.append(f"{word} \u27e6{len(flat)}\u27e7")
            flat.append((kind, value))
        else:
            marks.append(f"\u27e6{len(flat)}\u27e7")
            flat.append(p)
    text = " ".join([g.prose()] + [f"{m} {g.prose()}" for m in marks])
    shape = r.randrange(3)
    if shape == 0:
        body = json.dumps({"type": "chat", "room": "kyc", "text": text}, ensure_ascii=False)
    elif shape == 1:
        body = f"{g.en.iso8601()}Z INFO kyc note=\"{text}\""
    else:
        body = text
    return fill(body, flat, form_encoded=False, marks_in_text=True)


# More national, bank and wallet identifiers (the kinds `uk_nino`,
# `it_fiscal_code`, `fi_hetu`, `sg_nric`, `in_pan`, `au_tfn`, `au_abn`,
# `au_medicare`, `kr_rrn`, `br_cnpj`, `us_passport`, `us_bank_number`,
# `swift_bic`, `crypto_address`). Values come from Faker (it_IT fiscal
# codes, fi_FI HETUs, pt_BR CNPJs, en_US passports, ABA routing numbers and
# SWIFT codes), python-stdnum's check-digit functions over random digits (TFN,
# ABN, RRN) and its validators as the referee for every generated value,
# the issuers' published rules where neither has one (HMRC's NINO prefixes,
# ICA's NRIC/FIN check letters, the Medicare check digit), published test
# vectors (BIP 173 and BIP 350 segwit addresses, EIP-55 addresses, the
# genesis address), and base58check addresses built with hashlib.
# Hard negatives: each with a wrong check character, NINOs with prefixes
# HMRC never allocates (Faker's en_GB `ssn` gives `ZZ`), PANs whose fourth
# letter is no holder type, SWIFT codes and valid TFNs without their word,
# RRNs failing the check without their word, EIP-55 addresses with one
# letter's case flipped.

import stdnum.au.abn
import stdnum.au.tfn
import stdnum.bic
import stdnum.bitcoin
import stdnum.br.cnpj
import stdnum.fi.hetu
import stdnum.in_.pan
import stdnum.it.codicefiscale
import stdnum.kr.rrn
import stdnum.us.rtn

B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
SEGWIT = ["BC1QW508D6QEJXTDG4Y5R3ZARVARY0C5XW7KV8F3T4", "bc1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3qccfmv3",
          "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq", "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqzk5jj0",
          "bc1pw508d6qejxtdg4y5r3zarvary0c5xw7kw508d6qejxtdg4y5r3zarvary0c5xw7kt5nd6y", "BC1SW50QGDZ25J",
          "bc1zw508d6qejxtdg4y5r3zarvaryvaxxpcs"]
EIP55 = ["0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed", "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359",
         "0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB", "0xD1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb"]


def base58check(r):
    payload = bytes([r.choice([0, 5])]) + r.randbytes(20)
    raw = payload + hashlib.sha256(hashlib.sha256(payload).digest()).digest()[:4]
    n, out = int.from_bytes(raw, "big"), ""
    while n:
        n, k = divmod(n, 58)
        out = B58[k] + out
    out = "1" * (len(raw) - len(raw.lstrip(b"\0"))) + out
    assert stdnum.bitcoin.is_valid(out), out
    return out


def nino(r, valid=True):
    first, second = "ABCEGHJKLMNOPRSTWXYZ", "ABCEGHJKLMNPRSTWXYZ"
    while True:
        prefix = r.choice(first) + r.choice(second)
        if prefix not in ("BG", "GB", "KN", "NK", "NT", "TN", "ZZ"):
            break
    if not valid:
        # Not allocated: Q, D or F first; O second; GB, ZZ.
        prefix = r.choice(["QQ", "DA", "FE", "ZZ", "GB", "AO", "BO"])
    d = f"{r.randrange(10**6):06d}"
    suffix = r.choice("ABCD")
    return r.choice([f"{prefix}{d}{suffix}", f"{prefix} {d[:2]} {d[2:4]} {d[4:]} {suffix}", f"{prefix} {d} {suffix}"])


def nric(r, valid=True):
    series = r.choice("STFGM")
    digits = [r.randrange(10) for _ in range(7)]
    total = sum(w * d for w, d in zip([2, 7, 6, 5, 4, 3, 2], digits)) + {"S": 0, "T": 4, "F": 0, "G": 4, "M": 3}[series]
    table = {"S": "JZIHGFEDCBA", "T": "JZIHGFEDCBA", "F": "XWUTRQPNMLK", "G": "XWUTRQPNMLK", "M": "XWUTRQPNJLK"}[series]
    letter = table[total % 11] if valid else table[(total + 1 + r.randrange(9)) % 11]
    return series + "".join(map(str, digits)) + letter


def pan(r, valid=True):
    up = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    holder = r.choice("PCHFATBLJGK") if valid else r.choice("DEIMNOQRSUVWXYZ")
    value = "".join(r.choice(up) for _ in range(3)) + holder + r.choice(up) + f"{r.randrange(1, 10**4):04d}" + r.choice(up)
    assert stdnum.in_.pan.is_valid(value) == valid, value
    return value


def digits_valid(r, n, ok):
    while True:
        value = "".join(str(r.randrange(10)) for _ in range(n))
        if value[0] != "0" and ok(value):
            return value


def medicare(r, valid=True):
    body = str(r.randrange(2, 7)) + "".join(str(r.randrange(10)) for _ in range(7))
    check = sum(w * int(d) for w, d in zip([1, 3, 7, 9, 1, 3, 7, 9], body)) % 10
    if not valid:
        check = (check + 1 + r.randrange(9)) % 10
    n = body + str(check) + str(r.randrange(1, 10))
    return r.choice([n, f"{n[:4]} {n[4:9]} {n[9]}"])


def rrn(r, checked=True):
    while True:
        body = f"{r.randrange(100):02d}{r.randrange(1, 13):02d}{r.randrange(1, 29):02d}{r.randrange(1, 5)}{r.randrange(10**5):05d}"
        check = stdnum.kr.rrn.calc_check_digit(body)
        digit = check if checked else str((int(check) + 1 + r.randrange(9)) % 10)
        value = body[:6] + "-" + body[6:] + digit
        if stdnum.kr.rrn.is_valid(value) == checked:
            return value


def flip_case(r, address):
    letters = [k for k, c in enumerate(address) if k > 1 and c.isalpha()]
    k = r.choice(letters)
    return address[:k] + address[k].swapcase() + address[k + 1:]


def bad_check(value, alphabet):
    """The same value with its last character replaced by the next in `alphabet`."""
    return value[:-1] + alphabet[(alphabet.index(value[-1]) + 1) % len(alphabet)]


def bad_hetu(value):
    """A HETU with a wrong check letter. A wrong check digit would leave
    `090392-8768`, which is also how a phone number is written."""
    letters = "ABCDEFHJKLMNPRSTUVWXY"
    return value[:-1] + (letters[(letters.index(value[-1]) + 1) % len(letters)] if value[-1] in letters else "H")


def more_ids(g):
    r, en = g.rng, g.en
    it, fi, br = g.fakers["it_IT"], Faker("fi_FI"), g.fakers["pt_BR"]
    fi.seed_instance(r.randrange(10**9))
    up = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    planted = []
    for _ in range(r.randrange(1, 3)):
        kind = r.choice(["uk_nino", "it_fiscal_code", "fi_hetu", "sg_nric", "in_pan", "au_tfn", "au_abn", "au_medicare",
                         "kr_rrn", "br_cnpj", "us_passport", "us_bank_number", "swift_bic", "crypto_address"])
        if kind == "uk_nino":
            planted.append((kind, nino(r)))
        elif kind == "it_fiscal_code":
            value = it.ssn()
            assert stdnum.it.codicefiscale.is_valid(value), value
            planted.append((kind, value))
        elif kind == "fi_hetu":
            value = fi.ssn()
            assert stdnum.fi.hetu.is_valid(value), value
            planted.append((kind, value))
        elif kind == "sg_nric":
            planted.append((kind, nric(r)))
        elif kind == "in_pan":
            planted.append((kind, pan(r)))
        elif kind == "au_tfn":
            n = digits_valid(r, 9, stdnum.au.tfn.is_valid)
            planted.append(("word", (r.choice(["TFN", "TFN:", "tax file number"]), kind, r.choice([n, f"{n[:3]} {n[3:6]} {n[6:]}"]))))
        elif kind == "au_abn":
            n = digits_valid(r, 11, stdnum.au.abn.is_valid)
            planted.append(("word", (r.choice(["ABN", "ABN:"]), kind, r.choice([n, f"{n[:2]} {n[2:5]} {n[5:8]} {n[8:]}"]))))
        elif kind == "au_medicare":
            planted.append(("word", (r.choice(["Medicare", "Medicare no.", "Medicare card"]), kind, medicare(r))))
        elif kind == "kr_rrn":
            if r.random() < 0.6:
                planted.append((kind, rrn(r)))
            else:  # issued since 2020: no check digit, so after its name
                planted.append(("word", (r.choice(["RRN", "주민등록번호"]), kind, rrn(r, checked=False))))
        elif kind == "br_cnpj":
            value = br.cnpj()
            assert stdnum.br.cnpj.is_valid(value), value
            if r.random() < 0.7:
                planted.append((kind, value))
            else:
                planted.append(("word", ("CNPJ", kind, stdnum.br.cnpj.compact(value))))
        elif kind == "us_passport":
            value = en.passport_number() if r.random() < 0.6 else f"{r.randrange(10**8, 10**9)}"
            planted.append(("word", (r.choice(["passport", "Passport No.", "passport number"]), kind, value)))
        elif kind == "us_bank_number":
            if r.random() < 0.5:
                value = en.aba()
                assert stdnum.us.rtn.is_valid(value), value
                planted.append(("word", (r.choice(["routing number", "ABA", "routing"]), kind, value)))
            else:
                value = str(r.randrange(10**7, 10**r.randrange(8, 17)))
                planted.append(("word", (r.choice(["account number", "acct", "bank account", "checking account"]), kind, value)))
        elif kind == "swift_bic":
            value = r.choice([en.swift8, en.swift11])()
            assert stdnum.bic.is_valid(value), value
            planted.append(("word", (r.choice(["SWIFT", "SWIFT code", "BIC"]), kind, value)))
        else:
            value = r.choice([lambda: base58check(r), lambda: r.choice(SEGWIT), lambda: r.choice(EIP55),
                              lambda: "0x" + r.randbytes(20).hex()])()
            planted.append((kind, value))
    if r.random() < 0.8:
        tfn = digits_valid(r, 9, stdnum.au.tfn.is_valid)
        bad = [nino(r, valid=False), bad_check(it.ssn(), up), bad_hetu(fi.ssn()),
               nric(r, valid=False), pan(r, valid=False), tfn, ("TFN", tfn[:-1] + str((int(tfn[-1]) + 1) % 10)),
               ("ABN", digits_valid(r, 11, lambda v: not stdnum.au.abn.is_valid(v))),
               ("Medicare", medicare(r, valid=False)), rrn(r, checked=False),
               bad_check(br.cnpj(), "0123456789"), en.swift8(), ("routing", digits_valid(r, 9, lambda v: not stdnum.us.rtn.is_valid(v))),
               flip_case(r, r.choice(EIP55)), bad_check(base58check(r), B58)]
        choice = r.choice(bad)
        if isinstance(choice, tuple):
            planted.append(("word", (choice[0], None, choice[1])))
        else:
            planted.append((None, choice))
    r.shuffle(planted)
    return kyc_frame(g, planted)


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
    m = Gen(seed * 7919 + 3)
    for _ in range(int(sys.argv[5]) if len(sys.argv) > 5 else 0):
        print(json.dumps(more_ids(m), ensure_ascii=False))


if __name__ == "__main__":
    main_with_profiles()
