"""Demo step: conversations, weekly feedback, snippets and therapist time for the demo
trial's treatment participants. Deterministic (``ctx.rng``), idempotent (a conversation that
already has messages is left alone), and written in our own words.

Runs after the treatment and measures steps (imported last in ``icbt/demo.py``): where the
treatment demo has handed-in homework, the feedback answers it and marks it reviewed,
except homework handed in during the last two days, which stays waiting (the caseload then
shows waiting and overdue feedback). Without homework the therapist writes a weekly check-in.
"""
from __future__ import annotations

import datetime as dt
import random
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from icbt.demo import DemoContext, demo_step
from icbt.messaging.feedback import add_working_days
from icbt.messaging.models import Conversation, Message, Snippet, TherapistTimeDay
from icbt.messaging.services import conversation_for
from icbt.trials.models import Participant

WELCOME = [
    "Welcome to the programme, {first}. I am {therapist} and I will follow your work each week. "
    "Start with the first module when it suits you; it takes about half an hour. "
    "You can write to me here at any time, and I usually answer within one working day.",
    "Hello {first}, and welcome. I am {therapist}, your therapist during the programme. "
    "Each week a new module opens, and I will read your homework and write back to you here. "
    "If anything is unclear, just ask.",
]

FEEDBACK = [
    "Thank you for your homework on *{module}*. You wrote down clear, concrete situations, which makes "
    "it much easier to see the pattern.\n\nFor the coming week:\n- keep the notes short, a line or two is enough\n"
    "- write down what you expected would happen, and what actually happened",
    "Well done on *{module}*. I noticed that you kept going even on the days when it felt pointless; "
    "that is exactly how change starts. The anxiety went down a little each time you stayed in the "
    "situation. Try to repeat the same step two or three more times before moving up.",
    "Thank you, {first}. Your worksheet for *{module}* shows that you have understood the idea well. "
    "One thing to try: when the worry starts, note the time and park it until your worry time, "
    "instead of arguing with it. Tell me next week how that went.",
    "I have read your homework on *{module}*. It is honest and detailed, thank you. You describe "
    "avoiding the shop after work; that is a good first target. Could you pick one small step for "
    "this week, such as going in and buying one thing?",
]

CHECK_IN = [
    "Hello {first}, week {week} has started and the module *{module}* is open for you. "
    "How did last week go? Write a few lines when you have time.",
    "A short hello from me: this week's module is *{module}*. Take it in small pieces if the week is busy.",
]

PATIENT_MESSAGES = [
    ("I tried the breathing exercise on the bus this morning. My heart was racing but I stayed on "
     "until my stop. Is it normal that it took so long to calm down?",
     "Yes, that is normal, and staying on the bus was the important part. The body needs a while to "
     "settle; it usually gets quicker each time you practise. Well done."),
    ("I did not manage the homework this week, work has been very stressful. Should I skip the module?",
     "Thank you for telling me. Do not skip it: read the first two pages and do a shorter version of "
     "the exercise, ten minutes is fine. We can adjust the pace together."),
    ("Is it okay to do the worry time in the evening? Mornings are impossible with the children.",
     "Of course. Choose a time that works, but not right before bed, so the worries do not follow you "
     "into sleep. Early evening is often good."),
    ("I went to the meeting and said something, even though my voice was shaking. Nobody seemed to notice.",
     "That is a big step, and a useful observation: the shaking felt obvious to you but others did not "
     "notice it. Write it down in this week's worksheet."),
    ("Sometimes I feel worse after the exposure exercises. Am I doing something wrong?",
     "Feeling worse at first is common, and it does not mean you are doing it wrong. The anxiety "
     "usually peaks and then falls if you stay long enough. Let us look at how long you stayed in "
     "the last exercise."),
    ("Thank you for the feedback, it helped to read it.",
     "I am glad it helped. Keep going, you are doing good work."),
]

SNIPPETS = [
    ("Welcome back", "Good to hear from you again. Let us pick up where we left off."),
    ("Praise for effort", "You kept practising even when it was hard. That effort is what makes the difference."),
    ("Next step", "For the coming week, choose one small next step and write down what you expect "
     "will happen before you do it."),
]

FEEDBACK_GRACE_DAYS = 2  # homework handed in this recently is left for the therapist to answer


def _at(day: dt.date, hour: int, minute: int, zone: ZoneInfo) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=zone).astimezone(dt.timezone.utc)


def _treatment_homework(ctx: DemoContext, ids: list[int]) -> dict[int, list]:
    """Handed-in homework per participant, when the treatment capability is present."""
    try:
        from icbt.content.models import ModuleVersion
        from icbt.treatment.models import Homework, PlanItem
    except ImportError:  # pragma: no cover - treatment not installed
        return {}
    rows = ctx.session.execute(
        select(Homework, PlanItem.position, ModuleVersion.title)
        .join(PlanItem, PlanItem.id == Homework.plan_item_id)
        .join(ModuleVersion, ModuleVersion.id == PlanItem.module_version_id)
        .where(Homework.participant_id.in_(ids), Homework.status != "draft")
        .order_by(Homework.submitted_at)
    ).all() if ids else []
    out: dict[int, list] = {}
    for homework, position, title in rows:
        out.setdefault(homework.participant_id, []).append((homework, position, title))
    return out


def _module_titles(ctx: DemoContext, ids: list[int]) -> dict[int, dict[int, str]]:
    try:
        from icbt.content.models import ModuleVersion
        from icbt.treatment.models import ModulePlan, PlanItem
    except ImportError:  # pragma: no cover
        return {}
    rows = ctx.session.execute(
        select(ModulePlan.participant_id, PlanItem.position, ModuleVersion.title)
        .join(PlanItem, PlanItem.plan_id == ModulePlan.id)
        .join(ModuleVersion, ModuleVersion.id == PlanItem.module_version_id)
        .where(ModulePlan.participant_id.in_(ids), ModulePlan.is_crossover.is_(False))
    ).all() if ids else []
    out: dict[int, dict[int, str]] = {}
    for pid, position, title in rows:
        out.setdefault(pid, {})[position] = title
    return out


@demo_step
def messaging_conversations(ctx: DemoContext) -> None:
    session = ctx.session
    rng = random.Random(ctx.rng.random())
    for therapist in ctx.therapists:
        for title, body in SNIPPETS:
            exists = session.scalar(select(Snippet.id).where(Snippet.owner_id == therapist.id, Snippet.title == title))
            if exists is None:
                session.add(Snippet(owner_id=therapist.id, title=title, body=body))
                ctx.count("snippets")
    people = [
        p for p in ctx.participants
        if p.arm == "treatment" and p.therapist_id and p.start_date and p.start_date < ctx.today
    ]
    ids = [p.id for p in people]
    homework = _treatment_homework(ctx, ids)
    titles = _module_titles(ctx, ids)
    have_messages = set(session.scalars(
        select(Conversation.participant_id).join(Message, Message.conversation_id == Conversation.id)
        .where(Conversation.participant_id.in_(ids)).group_by(Conversation.participant_id)
        .having(func.count(Message.id) > 0)
    )) if ids else set()
    for p in people:
        rng_p = random.Random(f"{rng.random()}-{p.code}")  # one stream per participant
        if p.id in have_messages:
            continue
        _seed_conversation(ctx, p, rng_p, homework.get(p.id, []), titles.get(p.id, {}))


def _seed_conversation(ctx: DemoContext, p: Participant, rng: random.Random, handed_in: list, titles: dict) -> None:
    session = ctx.session
    zone = ZoneInfo(p.trial.timezone)
    therapist = p.therapist
    first = p.user.display_name.split()[0]
    conversation = conversation_for(session, p)
    n = 0
    yesterday = ctx.today - dt.timedelta(days=1)
    midnight = _at(ctx.today, 0, 0, zone)  # nothing is sent or read from today on

    def add(sender: str, body: str, at: dt.datetime, **fields) -> Message:  # type: ignore[no-untyped-def]
        nonlocal n
        n += 1
        read = at < _at(yesterday, 8, 0, zone) or rng.random() < 0.5
        message = Message(
            conversation_id=conversation.id,
            author_id=therapist.id if sender == "therapist" else p.user_id,
            sender_role=sender, kind="message", body=body, idempotency_key=f"demo-{p.id}-{n}",
            sent_at=at, read_at=min(at + dt.timedelta(hours=rng.randint(1, 20)), midnight) if read else None,
            **fields,
        )
        session.add(message)
        return message

    def minutes(day: dt.date, low: int, high: int) -> None:
        row = session.scalar(select(TherapistTimeDay).where(
            TherapistTimeDay.therapist_id == therapist.id, TherapistTimeDay.participant_id == p.id,
            TherapistTimeDay.day == day))
        if row is None:
            row = TherapistTimeDay(therapist_id=therapist.id, participant_id=p.id, day=day, seconds=0)
            session.add(row)
        row.seconds += rng.randint(low, high) * 60

    start = p.start_date
    add("therapist", rng.choice(WELCOME).format(first=first, therapist=therapist.display_name.split()[0]),
        _at(start, 9, rng.randint(0, 50), zone))
    minutes(start, 4, 8)
    weeks = min(((ctx.today - start).days // 7) + 1, p.trial.weeks)
    by_week = {}
    for homework, position, title in handed_in:
        by_week.setdefault(position, []).append((homework, title))
    for week in range(1, weeks + 1):
        week_start = start + dt.timedelta(days=7 * (week - 1))
        module = titles.get(week) or "this week's module"
        if week > 1 and not by_week.get(week - 1) and week_start < ctx.today:
            add("therapist", rng.choice(CHECK_IN).format(first=first, week=week, module=module),
                _at(week_start, 8, rng.randint(10, 55), zone))
            minutes(week_start, 2, 5)
        if rng.random() < 0.55:
            day = week_start + dt.timedelta(days=rng.randint(1, 4))
            if day < ctx.today:
                question, answer = rng.choice(PATIENT_MESSAGES)
                asked = _at(day, rng.randint(7, 21), rng.randint(0, 59), zone)
                add("patient", question, asked)
                reply_day = add_working_days(day, 1)
                if reply_day < ctx.today:
                    add("therapist", answer, _at(reply_day, rng.randint(8, 15), rng.randint(0, 59), zone))
                    minutes(reply_day, 3, 7)
        for homework, title in by_week.get(week, []):
            handed = homework.submitted_at
            if handed is None or handed.astimezone(zone).date() > ctx.today - dt.timedelta(days=FEEDBACK_GRACE_DAYS):
                continue  # still waiting for the therapist
            feedback_day = add_working_days(handed.astimezone(zone).date(), 1)
            if feedback_day >= ctx.today:
                continue
            at = max(_at(feedback_day, rng.randint(8, 16), rng.randint(0, 59), zone), handed + dt.timedelta(hours=1))
            message = add("therapist", rng.choice(FEEDBACK).format(first=first, module=title), at,
                          homework_id=homework.id, is_feedback=True)
            minutes(feedback_day, 10, 22)
            if homework.status == "submitted":
                from icbt.treatment.services import mark_homework_reviewed

                session.flush()
                mark_homework_reviewed(session, homework, therapist, at=message.sent_at)
    session.flush()
    ctx.count("demo conversations")
    ctx.count("messages", n)
