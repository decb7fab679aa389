"""A generated smart-reply data set: customer messages in varied wording -> canned replies.

Intents share vocabulary ("order", "my", "please", times and numbers), so a model has to read
more than one word. Generation is deterministic for a given seed.
"""

import random
import re

# intent -> (reply shown to users, message templates). {x} slots are filled from SLOTS.
INTENTS = {
    "greeting": ("Hi! How can I help you today?", ["hello", "hi there", "good {daypart}", "hey",
        "hello is anyone there", "hi i have a question"]),
    "thanks": ("You're welcome!", ["thanks", "thank you so much", "thanks for the help",
        "great thank you", "cheers that helped", "thank you that is all"]),
    "goodbye": ("Goodbye, have a great day!", ["bye", "goodbye", "see you later", "that is all bye",
        "talk to you {when}", "i have to go now bye"]),
    "order_status": ("Let me check where your order is.", ["where is {order}",
        "has {order} shipped yet", "when will {order} arrive", "track {order}",
        "what is the status of {order}", "{order} has not arrived yet"]),
    "cancel_order": ("I can cancel that order for you.", ["cancel {order}",
        "i want to cancel {order}", "please stop {order}", "i no longer want {order}",
        "can you cancel {order} {when}", "cancel it please"]),
    "refund": ("I'll start a refund for you.", ["i want my money back for {order}",
        "refund {order}", "can i get a refund", "{order} was broken i want a refund",
        "return {order} for a refund", "how do i get my money back"]),
    "change_address": ("I can update your delivery address.", ["change the address for {order}",
        "ship {order} to a new address", "i moved please update my address",
        "wrong address on {order}", "deliver {order} to my office instead",
        "update my delivery address"]),
    "shipping_cost": ("Shipping is free on orders over $50.", ["how much is shipping",
        "do you charge for delivery", "is shipping free", "what does delivery cost for {order}",
        "shipping fees to {place}", "how much to ship to {place}"]),
    "reset_password": ("I've sent you a link to reset your password.", ["i forgot my password",
        "reset my password", "i cannot log in", "my password does not work",
        "help me log in to my account", "locked out of my account"]),
    "opening_hours": ("We're open 9am to 6pm, Monday to Saturday.", ["when are you open",
        "what are your opening hours", "are you open {when}", "what time do you close {when}",
        "is the store open on {weekday}", "opening times in {place}"]),
    "book_table": ("Sure! For how many people?", ["book a table for {number}",
        "i want a table {when}", "reserve a table at {time}", "table for {number} at {time} please",
        "can i book dinner for {number} {when}", "do you have a table {when} at {time}"]),
    "weather": ("Here is the forecast for you.", ["what is the weather {when}",
        "will it rain {when}", "weather in {place}", "is it going to be sunny in {place}",
        "do i need an umbrella {when}", "how cold is it in {place}"]),
    "set_alarm": ("Alarm set.", ["set an alarm for {time}", "wake me up at {time}",
        "alarm at {time} {when}", "remind me at {time}", "i need to wake up at {time}",
        "set my alarm {when}"]),
    "talk_to_human": ("Connecting you to a person now.", ["let me talk to a human",
        "i want a real person", "speak to an agent", "can i call someone",
        "transfer me to support staff", "this bot is useless get me a person"]),
    "complaint": ("I'm sorry to hear that. Let me help.", ["i am very unhappy with {order}",
        "this is terrible service", "{order} was damaged", "your service is too slow",
        "i want to complain about {order}", "the staff in {place} were rude"]),
}

SLOTS = {
    "order": ["my order", "the package", "order {digits}", "my parcel", "the shoes i bought",
              "my delivery", "the order i placed {when}"],
    "when": ["today", "tomorrow", "tonight", "on monday", "this weekend", "next week", "soon"],
    "daypart": ["morning", "afternoon", "evening"],
    "place": ["london", "paris", "berlin", "the city", "my town", "madrid", "rome"],
    "weekday": ["monday", "friday", "sunday", "saturday"],
    "time": ["7", "7 am", "8 pm", "noon", "half past six", "9 30"],
    "number": ["two", "four", "2 people", "six", "a group of 5", "me and my wife"],
    "digits": ["1234", "5521", "77", "90210", "4410"],
}

PREFIXES = ["", "", "", "please ", "hey ", "hi ", "excuse me ", "quick question ", "um "]
SUFFIXES = ["", "", "", " please", " thanks", " asap", " ?", " !"]


def _fill(template, rng):
    """``template`` with each {slot}, left to right, replaced by a (filled) choice from SLOTS."""
    return re.sub(r"\{(\w+)\}", lambda slot: _fill(rng.choice(SLOTS[slot[1]]), rng), template)


def generate(count, seed):
    """``count`` ``(message, intent)`` pairs."""
    rng = random.Random(seed)
    names = sorted(INTENTS)
    examples = []
    for _ in range(count):
        intent = rng.choice(names)
        message = _fill(rng.choice(INTENTS[intent][1]), rng)
        message = f"{rng.choice(PREFIXES)}{message}{rng.choice(SUFFIXES)}".strip()
        examples.append((message.capitalize() if rng.random() < 0.3 else message, intent))
    return examples


def splits(seed=42, train=3000, validation=400, test=800):
    """Train, validation and test splits drawn from independent streams of the seed."""
    return {"train": generate(train, seed), "validation": generate(validation, seed + 1),
            "test": generate(test, seed + 2)}


def replies():
    """intent -> the reply shown to users."""
    return {intent: reply for intent, (reply, _) in INTENTS.items()}
