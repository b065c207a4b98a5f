"""The demo supervised matters (`seed-demo-supervision`, run by ./dev.sh run): three stages, idempotent."""

from sqlalchemy import select
from sqlalchemy.orm import Session

from workflows.demo_supervision import seed_demo_supervision
from workflows.models import SupervisionItem


def test_demo_matters_stand_at_three_stages_and_seeding_again_creates_nothing(world: Session) -> None:
    assert seed_demo_supervision(world) == 3
    assert seed_demo_supervision(world) == 0
    items = list(world.scalars(select(SupervisionItem).order_by(SupervisionItem.id)))
    assert [(i.status, len(i.feedback), i.plan_item_id is not None) for i in items] == [
        ("in_progress", 1, True),
        ("assigned", 0, True),
        ("registered", 0, True),
    ]
