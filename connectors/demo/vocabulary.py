"""Slot fillers and the tiny template engine the demo texts are composed with.

Templates are parsed once into alternating ``literal, slot, literal, ...`` tuples, so rendering a
post costs a handful of list appends; that keeps a million-mention run fast.
"""

from __future__ import annotations

import string
from collections.abc import Callable, Mapping, Sequence

RandomFn = Callable[[], float]
"""``random.Random.random``, bound: the only source of chance a filler may use."""
Filler = Callable[[RandomFn], str]


def pick(options: Sequence[str]) -> Filler:
    """A filler that draws uniformly from ``options``."""
    size = len(options)

    def fill(r: RandomFn) -> str:
        return options[int(r() * size)]

    return fill


def number(low: int, high: int, fmt: str = "{}") -> Filler:
    """A filler that draws an integer in ``[low, high]`` and formats it."""
    span = high - low + 1

    def fill(r: RandomFn) -> str:
        return fmt.format(low + int(r() * span))

    return fill


def code(alphabet: str, length: int, prefix: str = "") -> Filler:
    """A filler for reference codes such as booking references (``K7PQ2X``)."""
    size = len(alphabet)

    def fill(r: RandomFn) -> str:
        return prefix + "".join(alphabet[int(r() * size)] for _ in range(length))

    return fill


CITIES = (
    "Chicago",
    "Denver",
    "Boston",
    "Seattle",
    "Austin",
    "Atlanta",
    "Toronto",
    "Dublin",
    "London",
    "Manchester",
    "Leeds",
    "Glasgow",
    "Madrid",
    "Lisbon",
    "Paris",
    "Lyon",
    "Berlin",
    "Munich",
    "Amsterdam",
    "Phoenix",
    "Miami",
    "Orlando",
    "Newark",
    "Portland",
    "San Diego",
    "Nashville",
    "Vancouver",
    "Montreal",
    "Tokyo",
    "São Paulo",
    "Mexico City",
    "Bristol",
    "Cardiff",
    "Edinburgh",
    "Birmingham",
    "Dallas",
)
AIRPORTS = ("ORD", "DEN", "BOS", "SEA", "ATL", "JFK", "LHR", "DUB", "MAD", "LIS", "CDG", "FRA", "AMS", "MIA", "YYZ")
FIRST_NAMES = (
    "maria",
    "james",
    "aisha",
    "liam",
    "sofia",
    "noah",
    "emma",
    "lucas",
    "olivia",
    "mateo",
    "chloe",
    "ethan",
    "hana",
    "diego",
    "zoe",
    "oliver",
    "priya",
    "jack",
    "amara",
    "leo",
    "isla",
    "kai",
    "nina",
    "omar",
    "ruby",
    "felix",
    "yuki",
    "sam",
    "grace",
    "theo",
    "ines",
    "marco",
    "lena",
    "tyler",
    "jade",
    "ben",
    "carla",
    "dev",
    "freya",
    "hugo",
    "ana",
    "joao",
    "pierre",
    "klara",
    "sven",
    "haruto",
    "camille",
    "jonas",
    "lucia",
    "ali",
)
LAST_NAMES = (
    "lopez",
    "smith",
    "khan",
    "nguyen",
    "murphy",
    "silva",
    "mueller",
    "martin",
    "tanaka",
    "brown",
    "rossi",
    "garcia",
    "walsh",
    "cohen",
    "okafor",
    "dubois",
    "schmidt",
    "kim",
    "patel",
    "jones",
    "santos",
    "novak",
    "lee",
    "wright",
    "moreau",
    "fischer",
    "costa",
    "evans",
    "suzuki",
    "reyes",
)
HANDLE_SUFFIXES = ("", "_", "88", "_x", "22", "official", "1990", "_uk", "xo", "07", "_writes", "lol", "99", "_pdx")
EMO_NEG = ("😡", "🙄", "😤", "🤬", "😭", "😩", "💀", "🤦", "😒", "", "", "", "")
EMO_POS = ("🙌", "❤️", "😍", "🎉", "👏", "✨", "😊", "💯", "🙏", "", "", "")
TIMES = ("6am", "7:15am", "9:40am", "noon", "2:30pm", "5pm", "6:45pm", "9pm", "11:30pm")

DISHES = (
    "pad thai",
    "burrito bowl",
    "ramen",
    "margherita pizza",
    "poke bowl",
    "chicken katsu curry",
    "falafel wrap",
    "sushi platter",
    "double cheeseburger",
    "pho",
    "butter chicken",
    "caesar salad",
    "tacos",
    "dumplings",
)
RESTAURANTS = (
    "Golden Wok",
    "Nonna's Kitchen",
    "Taco Loco",
    "Burger Barn",
    "Sakura Sushi",
    "Green Bowl",
    "Curry House",
    "Pho Real",
    "Smash Patty Co",
    "The Falafel Stand",
)
PLANS = ("Unlimited Plus", "Nimbus 30GB", "Family Share", "Nimbus Go", "Fibre 500", "Pay As You Go")
DEVICES = ("iPhone 15", "Pixel 8", "Galaxy S24", "iPhone 13", "Moto G", "Galaxy A54", "router", "hotspot")
REGIONS = ("the north-east", "downtown", "the whole west side", "my area", "the city centre", "the suburbs")

SLOTS: Mapping[str, Filler] = {
    "city": pick(CITIES),
    "city2": pick(CITIES[::-1]),
    "airport": pick(AIRPORTS),
    "flight": number(100, 2999, "SK{}"),
    "hflight": number(100, 999, "HZ{}"),
    "gate": number(1, 48, "gate B{}"),
    "hours": number(2, 9),
    "mins": number(25, 95),
    "days": number(2, 12),
    "ref": code("ABCDEFGHJKLMNPQRSTUVWXYZ23456789", 6),
    "order": number(1_000_000, 9_999_999, "#{}"),
    "amount": number(12, 240, "${}"),
    "bigamount": number(180, 1900, "${}"),
    "name": pick(tuple(n.capitalize() for n in FIRST_NAMES)),
    "emo_neg": pick(EMO_NEG),
    "emo_pos": pick(EMO_POS),
    "time": pick(TIMES),
    "dish": pick(DISHES),
    "restaurant": pick(RESTAURANTS),
    "plan": pick(PLANS),
    "device": pick(DEVICES),
    "region": pick(REGIONS),
    "last4": number(1000, 9999),
    "spam_url": code("abcdefghijkmnpqrstuvwxyz23456789", 7, "https://claim-bonus.example/"),
}


Compiled = tuple[str, ...]
"""A parsed template: ``(literal, slot, literal, slot, ..., literal)``."""


def compile_template(text: str) -> Compiled:
    """Parse ``text`` once; every ``{slot}`` must be a known filler or a caller-provided key."""
    pieces: list[str] = []
    for literal, field, _spec, _conv in string.Formatter().parse(text):
        if pieces and len(pieces) % 2 == 1 and field is None:
            pieces[-1] += literal
            continue
        pieces.append(literal)
        if field is not None:
            pieces.append(field)
    if len(pieces) % 2 == 0:
        pieces.append("")
    return tuple(pieces)


def render(template: Compiled, r: RandomFn, given: Mapping[str, str]) -> str:
    """Fill ``template``: slots in ``given`` first (brand tag, names), then the shared fillers."""
    out = [template[0]]
    for i in range(1, len(template), 2):
        slot = template[i]
        value = given.get(slot)
        out.append(value if value is not None else SLOTS[slot](r))
        out.append(template[i + 1])
    return "".join(out).replace("  ", " ").strip()
