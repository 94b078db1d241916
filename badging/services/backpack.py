"""The learner's backpack: collections of their own badges, shared by a public link.

Every function takes the acting learner and only ever touches that learner's rows: a collection
or award of anyone else is "not found" (BackpackNotFound), exactly like one that does not exist.
Each change is recorded in the audit log.
"""

from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.translation import gettext as _

from badging.models import AuditEvent, Award, Collection, CollectionItem
from lti.models import Person

NAME_MAX = 200


class BackpackNotFound(Exception):
    """No such collection or award for this learner (it may exist for someone else): answer 404."""


class BackpackRefused(ValueError):
    """The change is not possible; the message says why, in the learner's words."""


def _actor(learner: Person) -> str:
    return f"{learner.name or 'Learner'} (Canvas user {learner.canvas_user_id})"


def _audit(*, learner: Person, action: str, collection: Collection, award: Award | None = None, **detail) -> None:
    AuditEvent.objects.create(
        actor=_actor(learner),
        actor_person=learner,
        action=action,
        award=award,
        detail={"collection": collection.public_id, "name": collection.name, **detail},
    )


def _name_clean(name: str) -> str:
    name = " ".join((name or "").split())
    if not name:
        raise BackpackRefused(_("Give the collection a name."))
    if len(name) > NAME_MAX:
        raise BackpackRefused(_("A collection name has at most %(n)d characters.") % {"n": NAME_MAX})
    return name


def _collection_locked(*, learner: Person, collection_public_id: str) -> Collection:
    collection = Collection.objects.select_for_update().filter(public_id=collection_public_id, learner=learner).first()
    if collection is None:
        raise BackpackNotFound(collection_public_id)
    return collection


def _own_award(*, learner: Person, award_public_id: str) -> Award:
    award = Award.objects.filter(public_id=award_public_id, learner=learner).first()
    if award is None:
        raise BackpackNotFound(award_public_id)
    return award


def collection_create(*, learner: Person, name: str) -> Collection:
    """A new, unshared, empty collection; names are unique per learner."""
    name = _name_clean(name)
    try:
        with transaction.atomic():
            collection = Collection.objects.create(learner=learner, name=name)
            _audit(learner=learner, action="collection_created", collection=collection)
    except IntegrityError:
        raise BackpackRefused(_("You already have a collection named “%(name)s”.") % {"name": name})
    return collection


def collection_rename(*, learner: Person, collection_public_id: str, name: str) -> Collection:
    name = _name_clean(name)
    try:
        with transaction.atomic():
            collection = _collection_locked(learner=learner, collection_public_id=collection_public_id)
            old = collection.name
            if old != name:
                collection.name = name
                collection.save(update_fields=["name", "updated_at"])
                _audit(learner=learner, action="collection_renamed", collection=collection, old_name=old)
    except IntegrityError:
        raise BackpackRefused(_("You already have a collection named “%(name)s”.") % {"name": name})
    return collection


@transaction.atomic
def collection_delete(*, learner: Person, collection_public_id: str) -> None:
    """Deletes the collection (its public link stops working); the badges themselves stay."""
    collection = _collection_locked(learner=learner, collection_public_id=collection_public_id)
    _audit(learner=learner, action="collection_deleted", collection=collection)
    collection.delete()


@transaction.atomic
def collection_share_set(*, learner: Person, collection_public_id: str, shared: bool) -> Collection:
    """Shares (public page and JSON at the collection's link) or unshares the collection."""
    collection = _collection_locked(learner=learner, collection_public_id=collection_public_id)
    if collection.shared != shared:
        collection.shared = shared
        collection.shared_at = timezone.now() if shared else None
        collection.save(update_fields=["shared", "shared_at", "updated_at"])
        _audit(learner=learner, action="collection_shared" if shared else "collection_unshared", collection=collection)
    return collection


@transaction.atomic
def collection_award_add(*, learner: Person, collection_public_id: str, award_public_id: str) -> CollectionItem:
    """Adds one of the learner's live badges at the end of the collection (a second add is a no-op)."""
    collection = _collection_locked(learner=learner, collection_public_id=collection_public_id)
    award = _own_award(learner=learner, award_public_id=award_public_id)
    if award.revoked:
        raise BackpackRefused(_("A revoked badge cannot be added to a collection."))
    existing = CollectionItem.objects.filter(collection=collection, award=award).first()
    if existing is not None:
        return existing
    last = collection.items.aggregate(last=Max("position"))["last"]
    item = CollectionItem.objects.create(collection=collection, award=award, position=0 if last is None else last + 1)
    _audit(learner=learner, action="collection_award_added", collection=collection, award=award)
    return item


@transaction.atomic
def collection_award_remove(*, learner: Person, collection_public_id: str, award_public_id: str) -> None:
    collection = _collection_locked(learner=learner, collection_public_id=collection_public_id)
    award = _own_award(learner=learner, award_public_id=award_public_id)
    deleted, _rows = CollectionItem.objects.filter(collection=collection, award=award).delete()
    if not deleted:
        raise BackpackNotFound(award_public_id)
    _audit(learner=learner, action="collection_award_removed", collection=collection, award=award)


@transaction.atomic
def collection_award_move(*, learner: Person, collection_public_id: str, award_public_id: str, offset: int) -> None:
    """Moves a badge up (offset -1) or down (+1) in the collection; positions are renumbered 0…n-1
    under the collection's row lock, so two tabs reordering at once cannot leave a tie."""
    if offset not in (-1, 1):
        raise BackpackRefused(_("A badge moves one place up or down."))
    collection = _collection_locked(learner=learner, collection_public_id=collection_public_id)
    items = list(collection.items.select_related("award").order_by("position", "pk"))
    index = next((i for i, item in enumerate(items) if item.award.public_id == award_public_id), None)
    if index is None:
        raise BackpackNotFound(award_public_id)
    target = index + offset
    if 0 <= target < len(items):
        items[index], items[target] = items[target], items[index]
    changed = []
    for position, item in enumerate(items):
        if item.position != position:
            item.position = position
            changed.append(item)
    CollectionItem.objects.bulk_update(changed, ["position"])
    if changed:
        _audit(
            learner=learner,
            action="collection_reordered",
            collection=collection,
            award=items[target if 0 <= target < len(items) else index].award,
            order=[item.award.public_id for item in items],
        )
