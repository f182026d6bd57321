"""Believable worksheet answers for the demo trial (fictional people, our own words).

``answer_worksheet`` fills any worksheet from its field definitions: curated short answers
where we wrote some for that module and field, plain generic ones elsewhere, so the demo
keeps working when a module's fields change. Every answer passes the worksheet's checks.
"""
from __future__ import annotations

import random
from typing import Any

from icbt.content.library import FieldSpec, Worksheet
from icbt.content.worksheets import check_value

# module id -> field or column id -> alternatives
TEXT: dict[str, dict[str, list[str]]] = {
    "intro": {
        "main-problem": [
            "Panic attacks on the bus and in shops. I am scared of fainting in front of people.",
            "I worry all the time, about work, my kids, money. I cannot switch it off at night.",
            "I get very nervous when I have to talk in meetings, and I avoid lunch with colleagues.",
            "I keep checking my body for signs of illness and I google symptoms for hours.",
            "I feel low and tired, and I have stopped doing most things I used to enjoy.",
        ],
        "effect-on-life": [
            "I take the car everywhere and my partner has to do the shopping.",
            "I sleep badly and I am short-tempered with my family.",
            "I have called in sick twice this month. I miss my friends.",
            "I turn down invitations and then feel lonely.",
        ],
        "goal": ["Take the bus to work twice a week", "Go to the big supermarket alone", "Sleep through most nights",
                 "Say something in the Monday meeting", "Meet a friend for coffee every week",
                 "Stop googling symptoms", "Walk in the park on Sundays"],
    },
    "panic-1": {
        "situation": ["On the bus home, it was crowded", "In the queue at the supermarket", "At home watching TV",
                      "In a meeting at work", "Walking in town on my own"],
        "body": ["Heart racing, hot, hands shaking", "Dizzy and short of breath", "Tight chest and tingling fingers",
                 "Felt unreal, like in a dream"],
        "thought": ["I am having a heart attack", "I will faint and people will stare", "I am losing control",
                    "I cannot breathe and nobody will help"],
        "safety-behaviours": ["I sit near the door, carry water and check my pulse.",
                              "I hold on to something and I always have my phone ready to call my sister."],
    },
    "panic-2": {
        "exercise": ["Fast breathing for one minute", "Spinning on the office chair", "Running on the spot"],
        "learned": ["The dizziness went away by itself after a minute.", "My heart raced but nothing happened.",
                    "It felt like panic, but less scary when I did it on purpose."],
        "dropped": ["I left my water bottle at home on Tuesday. I was nervous at first, but it was fine."],
    },
    "agoraphobia-1": {
        "avoided": ["Buses, the big shopping centre, queues, and being far from home alone.",
                    "Crowded places, the cinema and driving on the motorway."],
        "step": ["Walk to the corner shop alone", "Take the bus one stop with my partner", "Take the bus one stop alone",
                 "Go to the supermarket at a quiet time", "Stand in the queue at the post office",
                 "Take the bus into town alone"],
        "first-step": ["Walk to the corner shop alone on Saturday morning."],
    },
    "agoraphobia-2": {
        "step": ["Took the bus two stops alone", "Stayed in the supermarket for 20 minutes", "Queued at the pharmacy"],
        "prediction": ["I would panic and have to get off", "I would faint in the queue"],
        "learned": ["The fear went down after about ten minutes. I stayed until the end.",
                    "I felt anxious, but I did not faint. I can do it again."],
        "next-step": ["Take the bus into town on my own next week."],
    },
    "social-1": {
        "situation": ["Lunch with new colleagues", "Asking a question in class", "Phoning the dentist"],
        "fear": ["They would think I am boring", "They would see me blush and think I am weird"],
        "safety": ["Rehearsed what to say and avoided eye contact", "Kept my hands in my pockets and spoke quietly"],
        "learned": ["Without the safety behaviours I felt more anxious at first, but I came across better than I thought."],
    },
    "social-2": {
        "situation": ["Made a small mistake on purpose when paying", "Said hello to a neighbour first",
                      "Gave my opinion in the team meeting"],
        "prediction": ["People will laugh at me", "They will ignore me"],
        "outcome": ["Nobody seemed to notice. The cashier just smiled.", "My neighbour said hello back and we chatted."],
        "lesson": ["Most people are busy with themselves; they do not watch me the way I think."],
    },
    "worry-1": {
        "worry": ["Whether I will lose my job", "My mother's health", "Money for the holidays", "If the kids are safe at school"],
        "trigger": ["An email from my boss", "A phone call from my sister", "The news on TV"],
        "worry-time": ["Half past six in the kitchen, for 20 minutes."],
        "noticed": ["Many worries did not feel important any more when worry time came."],
    },
    "worry-2": {
        "worry": ["The car needs a service", "What if I get ill and cannot work", "The rent goes up next month"],
        "action": ["Book the garage on Monday", "Notice it is a what-if worry and let it pass",
                   "Look at the budget on Sunday"],
        "experiment": ["Sent an email without reading it three times", "Did not check the weather before going out"],
        "outcome": ["It was fine. I felt uneasy for a while, then forgot about it."],
    },
    "health-1": {
        "habit": ["Checking my pulse", "Googling symptoms", "Asking my partner if I look pale"],
        "situation": ["Went for a walk instead of checking my pulse", "Closed the laptop instead of googling"],
        "learned": ["The urge was strong, but an hour later I was calmer than after checking."],
    },
    "activation-1": {
        "activity": ["Walk with the dog", "Call my friend Sara", "Cook a proper dinner", "Tidy the kitchen",
                     "Swim at the local pool", "Read for half an hour"],
        "values": ["My family, being active, and having friends around me."],
        "noticed": ["My mood was a bit better on the days I went outside, even when I did not feel like it."],
    },
    "thoughts-1": {
        "situation": ["My friend did not answer my message", "My boss wanted to talk to me", "I forgot a deadline"],
        "thought": ["She is angry with me", "I am going to be fired", "I always mess things up"],
        "feeling": ["Anxious", "Sad and worried", "Ashamed"],
        "evidence-for": ["She usually answers quickly", "He looked serious"],
        "evidence-against": ["She is on holiday this week", "He said the project went well last month"],
        "balanced": ["She is probably busy; she will answer when she can.",
                     "A talk does not mean bad news. I can ask what it is about."],
        "common-trap": ["Fortune telling and catastrophising, especially at night."],
    },
    "sleep-1": {
        "bedtime": ["22:30", "23:00", "23:15", "00:10"],
        "risetime": ["06:45", "07:00", "07:30"],
        "changes": ["I got up when I could not sleep, and I stopped looking at my phone in bed."],
    },
    "stress-1": {
        "stress-signs": ["Tight shoulders, headaches and snapping at my kids."],
        "problem": ["I have too many tasks at work and I do not say no to new ones."],
        "option": ["Talk to my manager about priorities", "Say no to one new task", "Work late every day"],
        "pros": ["Clear expectations", "Less to do", "Gets things done"],
        "cons": ["Scary conversation", "Colleague may be annoyed", "No energy left for family"],
        "step": ["Write down my tasks", "Book a meeting with my manager", "Agree on the top three priorities"],
        "when": ["Monday morning", "Tuesday", "Before Friday"],
        "review": ["The meeting went better than I feared. Two tasks moved to next month."],
    },
    "relaxation-1": {
        "notes": ["Hard to focus at first", "Felt heavy and calm afterwards", "Used it on the bus"],
        "early-signs": ["Clenched jaw and fast breathing."],
        "cue-word": ["Calm"],
    },
    "trauma-1": {
        "when": ["In the car after work", "At night when I could not sleep", "In the supermarket"],
        "situation": ["Driving past the place where it happened", "Loud voices on TV"],
        "support": ["My sister, my friend Ali, and the helpline number on my fridge."],
    },
    "relapse-prevention": {
        "skill": ["Exposure steps", "Worry time", "Thought record", "Going for walks"],
        "keep-using": ["Once a week, on Sunday evenings", "Whenever I notice I start avoiding"],
        "warning-signs": ["Avoiding the bus again, sleeping badly, and checking my pulse."],
        "risky-times": ["Busy weeks at work and the dark winter months."],
        "setback-plan": ["Read my notes, pick one small step, and talk to someone I trust."],
        "goal": ["Take a train trip to visit my aunt", "Join an evening class"],
        "first-step": ["Look up train times", "Sign up online"],
    },
}

GENERIC_TEXT = [
    "I tried it on Tuesday after work. It was hard at first, but it got easier.",
    "I noticed that the anxiety went down when I stayed.",
    "Not much this week; it was a busy week.",
    "I practised most days, usually in the evening.",
]


def _text(module_id: str, spec: FieldSpec, rng: random.Random) -> str:
    options = TEXT.get(module_id, {}).get(spec.id) or GENERIC_TEXT
    return rng.choice(options)[: spec.max_length]


def _number(spec: FieldSpec, rng: random.Random, *, after: bool = False) -> str:
    lo = int(spec.min if spec.min is not None else 0)
    hi = int(spec.max if spec.max is not None else lo + 10)
    span = hi - lo
    if spec.type == "scale":
        # Fear "after" or at the end of practice tends to be lower than before.
        middle = lo + span * (0.35 if after else 0.6)
        value = rng.gauss(middle, span * 0.15)
    else:
        value = lo + rng.random() * min(span, 60)
    return str(int(min(hi, max(lo, round(value)))))


def _value(module_id: str, spec: FieldSpec, rng: random.Random) -> str:
    if spec.type == "text":
        return _text(module_id, spec, rng)
    if spec.type == "choice":
        return rng.choice(spec.options)
    return _number(spec, rng, after=any(w in spec.id for w in ("after", "later", "now")))


def _checked(module_id: str, spec: FieldSpec, rng: random.Random) -> str:
    value = _value(module_id, spec, rng)
    if check_value(spec, value)[1] is not None:  # curated text too long etc.: a plain answer instead
        value = GENERIC_TEXT[0][: spec.max_length] if spec.type == "text" else _number(spec, rng)
    return value


def answer_worksheet(module_id: str, worksheet: Worksheet, rng: random.Random, *, complete: bool = True) -> dict[str, Any]:
    """Raw (form text) answers for every field; ``complete=False`` leaves some out (a draft)."""
    raw: dict[str, Any] = {}
    for spec in worksheet.fields:
        if not complete and not spec.required and rng.random() < 0.4:
            raw[spec.id] = [] if spec.type == "rows" else ""
            continue
        if spec.type == "rows":
            n = max(spec.min_rows, 1) + rng.randrange(0, 3 if complete else 1)
            n = min(n, spec.max_rows)
            raw[spec.id] = [{col.id: _checked(module_id, col, rng) for col in spec.columns} for _ in range(n)]
        else:
            raw[spec.id] = _checked(module_id, spec, rng)
    return raw
