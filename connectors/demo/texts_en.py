"""English post templates: what customers, the press and spammers write about the demo brands.

Each topic is ``(topic, sentiment, urgency, weight, templates)``.  ``{brand}`` becomes the account
tag (``@SkylineAir``) for a direct mention or the plain name for a keyword match.  Written for the
demo in the manner of real care traffic; no row is copied from any data set.
"""

from __future__ import annotations

Topic = tuple[str, str, str, float, tuple[str, ...]]

AIRLINE: tuple[Topic, ...] = (
    (
        "delay",
        "negative",
        "high",
        14,
        (
            "{brand} flight {flight} delayed AGAIN. {hours} hours at {airport} and zero updates {emo_neg}",
            "Sat on the tarmac in {city} for {mins} minutes, no AC, no info. Thanks {brand} {emo_neg}",
            "{brand} why does the app say on time when the board says delayed? {flight} to {city}",
            "Missed my connection in {city} because {flight} left {hours} hours late. What now {brand}?",
            "{brand} 3rd delay this month. I'm done. {emo_neg}",
        ),
    ),
    (
        "cancellation",
        "negative",
        "high",
        9,
        (
            "{brand} cancelled {flight} at midnight and the rebooking line has a {hours} hour wait. Seriously?",
            "{brand} my flight to {city} got cancelled and the app just says 'contact us'. I AM contacting you",
            "stranded in {city} thanks to {brand}. no hotel voucher, no rebooking, nothing {emo_neg}",
        ),
    ),
    (
        "lost_luggage",
        "negative",
        "high",
        8,
        (
            "{brand} my bag never made it to {city}. Ref {ref}. It's been {days} days {emo_neg}",
            "Day {days} without my luggage. {brand} your tracker says 'located' but nobody can tell me where",
            "{brand} landed in {city} with no suitcase and a wedding tomorrow. Please help, file ref {ref}",
        ),
    ),
    (
        "damaged_luggage",
        "negative",
        "normal",
        4,
        (
            "{brand} my suitcase came off the belt in {city} with a wheel missing and a cracked shell",
            "Thanks {brand} for destroying my guitar case on {flight} {emo_neg}",
        ),
    ),
    (
        "refund",
        "negative",
        "normal",
        7,
        (
            "{brand} still waiting on my refund for {flight}, it's been {days} weeks. Ref {ref}",
            "{brand} you charged me {amount} for a seat I never got. Refund please",
            "Filed a refund claim with {brand} {days} weeks ago and heard nothing back",
        ),
    ),
    (
        "booking",
        "neutral",
        "normal",
        8,
        (
            "{brand} can I change the name on booking {ref}? Typo in my surname",
            "{brand} is there a way to add a checked bag after booking? Flying to {city} on Friday",
            "{brand} what's the carry-on size limit on regional flights?",
            "Hey {brand} do you do group bookings for 12 people to {city}?",
            "{brand} the website keeps erroring when I try to pick seats for {ref}",
        ),
    ),
    (
        "crew_praise",
        "positive",
        "low",
        9,
        (
            "Shoutout to the crew on {brand} {flight} to {city}, {name} went above and beyond {emo_pos}",
            "{brand} smoothest landing I've ever had in {city}. Give that pilot a raise {emo_pos}",
            "Gate agent {name} at {airport} rebooked me in 2 minutes flat. Thank you {brand}!",
            "Love the new seats on {brand}, actually got some sleep on the red-eye {emo_pos}",
        ),
    ),
    (
        "wifi",
        "negative",
        "low",
        4,
        (
            "{brand} paid {amount} for wifi on {flight} and it didn't connect once",
            "{brand} inflight wifi is a scam, can't even load email {emo_neg}",
        ),
    ),
    (
        "safety",
        "negative",
        "critical",
        1.2,
        (
            "{brand} flight {flight} had smoke in the cabin and crew told us it was 'normal'. That is NOT normal",
            "Passenger on {brand} {flight} was aggressive for an hour and crew did nothing. I didn't feel safe",
            "{brand} the emergency exit on row 14 was blocked with bags the whole flight. Reporting this",
        ),
    ),
    (
        "legal",
        "negative",
        "critical",
        0.8,
        (
            "{brand} I've spoken to a lawyer about my {days}-day lost bag. Expect to hear from them.",
            "{brand} refund me the {bigamount} or I'll sue. Small claims court is cheap.",
        ),
    ),
)

TELECOM: tuple[Topic, ...] = (
    (
        "outage",
        "negative",
        "high",
        10,
        (
            "{brand} no signal in {city} since {time}. Is there an outage?",
            "is {brand} down?? no data, no calls, {region} {emo_neg}",
            "{brand} internet has been down for {hours} hours and I work from home. Please fix",
        ),
    ),
    (
        "slow_data",
        "negative",
        "normal",
        9,
        (
            "{brand} paying for {plan} and getting 0.4 Mbps. Full bars, nothing loads {emo_neg}",
            "{brand} your 5G in {city} is slower than my old 3G phone",
            "Speed test on {brand} at {time}: 1.2 down. Every evening the same",
        ),
    ),
    (
        "billing",
        "negative",
        "high",
        10,
        (
            "{brand} why was I charged {amount} extra this month? Nobody can explain it",
            "{brand} double charged again. That's {bigamount} out of my account and rent is due",
            "{brand} I cancelled in {city} store {days} weeks ago and you're still billing me",
        ),
    ),
    (
        "roaming",
        "negative",
        "normal",
        4,
        (
            "{brand} got a {bigamount} roaming bill after 3 days in {city}. Your site said roaming was included!",
            "{brand} roaming doesn't work in {city}, {device} says no service",
        ),
    ),
    (
        "plan_question",
        "neutral",
        "normal",
        9,
        (
            "{brand} can I add a line to my {plan} plan without a new contract?",
            "{brand} does {plan} include hotspot? Thinking of switching",
            "{brand} when is the {device} back in stock?",
            "hey {brand} how do I get my PUK code?",
        ),
    ),
    (
        "account_hacked",
        "negative",
        "critical",
        2.5,
        (
            "{brand} someone ported my number out without my permission. Bank app is now locked. URGENT",
            "{brand} my account was hacked, email and password changed, there's a new {device} ordered on it",
        ),
    ),
    (
        "fraud",
        "negative",
        "critical",
        1.2,
        (
            "{brand} SIM swap fraud on my line last night, {bigamount} gone from my bank. How did you let this happen",
            "{brand} got a text 'from Nimbus' asking for my card PIN. Is this you? Smells like fraud",
        ),
    ),
    (
        "data_breach",
        "negative",
        "critical",
        0.7,
        ("{brand} my details are on a breach list with my account number. Were you hacked? Why no notice?",),
    ),
    (
        "praise",
        "positive",
        "low",
        8,
        (
            "{name} at the {brand} store in {city} sorted my transfer in 10 minutes. Legend {emo_pos}",
            "Switched to {brand} last month and honestly the coverage in {city} is great {emo_pos}",
            "{brand} support chat fixed my issue in minutes, thank you {emo_pos}",
        ),
    ),
    (
        "contract",
        "negative",
        "normal",
        5,
        (
            "{brand} trying to cancel and the chat keeps disconnecting. Let me leave!!",
            "{brand} the price went up mid-contract again. How is that legal?",
        ),
    ),
)

FOOD: tuple[Topic, ...] = (
    (
        "late_delivery",
        "negative",
        "normal",
        13,
        (
            "{brand} order {order} said 25 min. It's been {mins}. Where is my food {emo_neg}",
            "{brand} driver has been 'nearby' for {mins} minutes. Circling my block apparently",
            "{brand} ordered at {time}, still nothing. Kids are starving",
        ),
    ),
    (
        "cold_food",
        "negative",
        "normal",
        8,
        (
            "{brand} my {dish} from {restaurant} arrived stone cold. {amount} for this?",
            "{brand} soggy fries and a cold {dish}. Order {order} {emo_neg}",
        ),
    ),
    (
        "missing_item",
        "negative",
        "normal",
        9,
        (
            "{brand} order {order} is missing the {dish}. Third time this month",
            "{brand} paid for 3 items got 1. Refund for {order} please",
        ),
    ),
    (
        "wrong_order",
        "negative",
        "normal",
        5,
        (
            "{brand} I got someone else's {dish}. Mine was from {restaurant}. Order {order}",
            "{brand} vegetarian order came with chicken in it. Not ok",
        ),
    ),
    (
        "refund",
        "negative",
        "normal",
        6,
        (
            "{brand} app says my refund for {order} was 'approved' {days} days ago. Still no money",
            "{brand} why did I only get {amount} credit instead of a refund?",
        ),
    ),
    (
        "courier",
        "negative",
        "high",
        4,
        (
            "{brand} your rider was rude and threw the bag at my door. Order {order}",
            "{brand} driver marked {order} delivered and ate it I think. Never arrived",
        ),
    ),
    (
        "app_crash",
        "negative",
        "normal",
        5,
        (
            "{brand} app crashes every time I hit checkout on my {device}",
            "{brand} promo code won't apply, the app just spins {emo_neg}",
        ),
    ),
    (
        "promo_question",
        "neutral",
        "low",
        7,
        (
            "{brand} does the free delivery weekend include {restaurant}?",
            "{brand} how do I use my referral credit?",
            "{brand} are you delivering in {city} yet?",
        ),
    ),
    (
        "praise",
        "positive",
        "low",
        10,
        (
            "{brand} {dish} from {restaurant} arrived in 18 minutes and still hot. Impressed {emo_pos}",
            "Rider {name} from {brand} came out in the rain with a smile. Tip well people {emo_pos}",
            "{brand} thanks for the instant refund on {order}, that's how it's done {emo_pos}",
        ),
    ),
    (
        "food_poisoning",
        "negative",
        "critical",
        1.5,
        (
            "{brand} got food poisoning from the {dish} from {restaurant}. Spent the night in A&E. Order {order}",
            "{brand} found a piece of plastic in my {dish}. My kid nearly swallowed it. Photos attached",
        ),
    ),
    (
        "fraud",
        "negative",
        "critical",
        1.0,
        (
            "{brand} {bigamount} of orders I never made on my card. Account hacked? Nobody answers chat",
            "{brand} someone is ordering to an address in {city} on MY account. Locked out. Help",
        ),
    ),
    (
        "legal",
        "negative",
        "critical",
        0.6,
        ("{brand} if I don't get my {bigamount} back by Friday I'll sue, I'm done asking nicely",),
    ),
)

GENERIC: tuple[Topic, ...] = (
    (
        "customer_service",
        "negative",
        "normal",
        6,
        (
            "{brand} is the worst customer service I have ever dealt with {emo_neg}",
            "{brand} sent you 3 DMs, no reply. Anyone there?",
            "{brand} on hold for {mins} minutes then the line dropped. Again.",
        ),
    ),
    (
        "contact",
        "neutral",
        "normal",
        3,
        (
            "{brand} what are your support hours?",
            "{brand} how do I reach a real person?",
        ),
    ),
    (
        "chatter",
        "neutral",
        "low",
        4,
        (
            "anyone else use {brand}? thinking of trying them",
            "{brand} new ad is everywhere in {city} lol",
            "Honestly {brand} has been fine for me. Nothing to report",
        ),
    ),
)

COMPETITOR: tuple[Topic, ...] = (
    (
        "competitor_praise",
        "positive",
        "low",
        5,
        (
            "Flew {brand} to {city} today, on time and the snacks were free {emo_pos}",
            "{brand} {hflight} crew were lovely, might switch from Skyline Air tbh",
        ),
    ),
    (
        "competitor_complaint",
        "negative",
        "normal",
        5,
        (
            "{brand} lost my bag in {city}, should've booked Skyline Air",
            "{brand} {hflight} delayed {hours} hours. Never again {emo_neg}",
        ),
    ),
    (
        "competitor_news",
        "neutral",
        "low",
        3,
        (
            "{brand} announces new route to {city} from $89. Skyline Air flies that for $140",
            "{brand} fare sale this weekend, anyone tried their new premium economy?",
        ),
    ),
)

NEWS: dict[str, tuple[Topic, ...]] = {
    "airline": (
        (
            "news",
            "neutral",
            "low",
            5,
            ("{brand} adds daily service between {city} and {city2}", "{brand} reports record summer bookings"),
        ),
        (
            "news",
            "negative",
            "normal",
            3,
            ("{brand} fined over refund delays, regulator says", "Pilots at {brand} vote on strike action"),
        ),
    ),
    "telecom": (
        (
            "news",
            "neutral",
            "low",
            5,
            ("{brand} expands 5G to {city} and {city2}", "{brand} cuts prices on {plan} plans"),
        ),
        (
            "news",
            "negative",
            "normal",
            3,
            ("{brand} customers report billing errors", "Watchdog opens probe into {brand} mid-contract rises"),
        ),
    ),
    "food_delivery": (
        (
            "news",
            "neutral",
            "low",
            5,
            ("{brand} launches grocery delivery in {city}", "{brand} partners with {restaurant} for late-night menu"),
        ),
        (
            "news",
            "negative",
            "normal",
            3,
            ("{brand} riders in {city} protest pay changes", "{brand} under fire for hidden service fees"),
        ),
    ),
}

SPAM: tuple[str, ...] = (
    "{brand} 🚀🚀 FREE 5000 USDT airdrop for the first 500 wallets! Claim now {spam_url}",
    "Congrats!! {brand} picked you for our giveaway 🎁 DM us to claim your {bigamount} gift card {spam_url}",
    "{brand} I made {bigamount} in 2 days with this crypto bot, no risk 💰 {spam_url}",
    "💎 {brand} fans: limited NFT drop, mint before it's gone {spam_url}",
    "{brand} Get 10k followers today!! 100% real, cheap {spam_url}",
)

FOLLOW_WAITING: tuple[str, ...] = (
    "{brand} still waiting on this {emo_neg}",
    "{brand} hello?? still nothing after {hours}h",
    "Any update {brand}?",
    "{brand} sent the DM like you asked, no answer yet",
    "{brand} bumping this. Still not sorted.",
)
FOLLOW_THANKS: tuple[str, ...] = (
    "{brand} DM sent, thanks",
    "{brand} thanks, that worked {emo_pos}",
    "{brand} sorted now, appreciate the quick reply {emo_pos}",
    "{brand} ok sent you my details",
)
FOLLOW_SAME: tuple[str, ...] = (
    "Same here in {city} {brand}",
    "{brand} this happened to me too last week",
    "+1, {brand} please look at this",
)

SPIKE_OUTAGE: tuple[str, ...] = (
    "{brand} is down everywhere?? no calls no data #NimbusDown",
    "{brand} SOS no signal in {city} since {time} #NimbusDown",
    "{brand} can't even make emergency calls right now, this is dangerous",
    "Whole office on {brand} has no internet. Great start to the day {emo_neg}",
    "{brand} how long is this outage going to last? Work calls in an hour",
)
SPIKE_OUTAGE_BRAND_POST = (
    "We're aware of an issue affecting calls and mobile data in {city} and nearby. Engineers are on it; "
    "we'll post updates here."
)
SPIKE_STORM_BRAND_POST = (
    "Severe storms around {city} are disrupting flights today. Check the app for your flight status; "
    "changes to affected bookings are free."
)
SPIKE_OUTAGE_NEWS: tuple[str, ...] = (
    "{brand} outage leaves customers across {city} without calls or data",
    "{brand} says engineers are working to restore service after network failure",
)
SPIKE_OUTAGE_PRESS: tuple[str, ...] = (
    "{brand} journalist here, writing up today's outage in {city}: how many customers are affected and when "
    "is service back? On deadline, can your press office comment?",
    "{brand} your outage thread is going viral in {city}. Reporter at a local news station, we'd like a "
    "statement before we go on air",
)
"""The press asking during the live demo's incident: the rubric's ``press_viral`` cue sends them to PR."""
SPIKE_VIRAL: tuple[str, ...] = (
    "{brand} rider left my order in the rain, food cold, and support closed the chat on me. 0 stars. Never again",
    "{brand} this is exactly what happened to me yesterday, cold food and no refund",
    "{brand} deleting the app after seeing this thread",
    "{brand} answer her!! this is disgusting service",
    "{brand} same, refund 'denied' for an order that never arrived {emo_neg}",
)
SPIKE_STORM: tuple[str, ...] = (
    "{brand} every flight out of {city} cancelled and the app crashes. Where do we go?",
    "{brand} storm delays are one thing, but {hours} hours with no water at the gate?",
    "{brand} rebooked onto a flight that's ALSO cancelled. Fantastic {emo_neg}",
)
