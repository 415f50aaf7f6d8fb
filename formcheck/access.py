"""Who may see and change what: every page and every look-up of an id from a URL goes through here.

    acc = Access(store, user)      # user: the logged-in UserRecord, or None in the single-user app
    acc.session(session_id)        # the session, or AccessDenied (also for an id that does not exist)
    acc.list_sessions(...), acc.review_queue(...), acc.rep_queue(...), acc.athletes(), ...
    acc.set_review(flag_id, ...)   # AccessDenied for an athlete, or for a flag of someone else's session

Rules
-----
* No account in the store: the single-user app, everything allowed (``user`` must be None). Once
  an account exists, ``Access(store, None)`` is refused: everyone logs in.
* A **coach** sees the sessions of the athletes on their roster, and sessions that have no owner
  (recorded before accounts existed, or for a name without an account); reviews them; manages
  the athletes of the roster (create, rename, merge, delete) and deletes their sessions.
* An **athlete** sees only their own sessions, with the coach's review; uploads (always under
  their own name); changes no review, deletes nothing.

A refusal is :class:`AccessDenied` (a :class:`~formcheck.storage.StoreError`, so the app shows
its one line). A session someone may not see and one that does not exist get the same answer.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Any, Sequence

from formcheck.storage import FlagRecord, JobRecord, RepItem, SessionRecord, Store, StoreError, UserRecord

__all__ = ["AccessDenied", "Access", "is_loopback"]

LOOPBACK_NAMES = ("localhost",)


class AccessDenied(StoreError):
    """The acting user may not do this (one line, safe to show)."""


def is_loopback(address: str | None) -> bool:
    """True for an address only this machine can reach (``localhost``, ``127.x.x.x``, ``::1``)."""
    if not address:
        return False
    text = address.strip().strip("[]")
    if text.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(text).is_loopback
    except ValueError:
        return False


class Access:
    """The store as one user may use it (see the module docstring)."""

    def __init__(self, store: Store, user: UserRecord | None) -> None:
        if user is None and store.has_users():
            raise AccessDenied("log in first: this formcheck has accounts")
        if user is not None and store.get_user(user.id) != user:
            raise AccessDenied("your account was changed or removed: log in again")
        self.store = store
        self.user = user
        self._owners: tuple[int | None, ...] | None = None
        self._owners_known = False

    # ------------------------------------------------------------------ who
    @property
    def single_user(self) -> bool:
        return self.user is None

    @property
    def can_review(self) -> bool:
        """Confirm, dismiss, grade, comment, add faults, delete sessions, manage athletes."""
        return self.user is None or self.user.is_coach

    def require_reviewer(self) -> None:
        if not self.can_review:
            raise AccessDenied("only a coach can change a review or manage athletes")

    def owners(self) -> tuple[int | None, ...] | None:
        """Account ids whose sessions this user sees (None in it: sessions without an owner); None: all."""
        if not self._owners_known:
            if self.user is None:
                self._owners = None
            elif self.user.is_coach:
                self._owners = (*(a.id for a in self.store.roster(self.user.id)), None)
            else:
                self._owners = (self.user.id,)
            self._owners_known = True
        return self._owners

    def may_see(self, session: SessionRecord) -> bool:
        owners = self.owners()
        return owners is None or session.owner_id in owners

    # ------------------------------------------------------------------ reading
    def athletes(self) -> list[str]:
        names = self.store.athletes(owners=self.owners())
        if self.user is not None and not self.user.is_coach and self.user.name not in names:
            names.append(self.user.name)
        return names

    def roster_names(self) -> list[str]:
        """The athletes a coach may upload for and manage (every athlete in the single-user app)."""
        if self.user is None:
            return self.store.athletes()
        if self.user.is_coach:
            return [a.name for a in self.store.roster(self.user.id)]
        return [self.user.name]

    def session(self, session_id: Any) -> SessionRecord:
        """The session, if this user may see it; else AccessDenied (the same for an unknown id)."""
        s = self.store.get_session(session_id) if isinstance(session_id, str) else None
        if s is None or not self.may_see(s):
            raise AccessDenied(f"no session {str(session_id)[:40]!r} that you may open")
        return s

    def session_or_none(self, session_id: Any) -> SessionRecord | None:
        try:
            return self.session(session_id)
        except AccessDenied:
            return None

    def list_sessions(self, **filters: Any) -> list[SessionRecord]:
        return self.store.list_sessions(owners=self.owners(), **filters)

    def review_queue(self, **filters: Any) -> list[FlagRecord]:
        return self.store.review_queue(owners=self.owners(), **filters)

    def rep_queue(self, **filters: Any) -> list[RepItem]:
        return self.store.rep_queue(owners=self.owners(), **filters)

    def athlete_history(self, athlete: str) -> list:
        if athlete not in self.athletes():
            raise AccessDenied(f"no athlete {str(athlete)[:80]!r} that you may see")
        return self.store.athlete_history(athlete, owners=self.owners())

    def flags_for_session(self, session_id: str) -> list[FlagRecord]:
        return self.store.flags_for_session(self.session(session_id).id)

    def review_counts(self, session_ids: Sequence[str]) -> dict[str, dict[str, int]]:
        return self.store.review_counts([self.session(i).id for i in session_ids])

    def flag(self, flag_id: Any) -> FlagRecord:
        try:
            f = self.store.get_flag(int(flag_id))
        except (TypeError, ValueError):
            f = None
        if f is None or self.session_or_none(f.session_id) is None:
            raise AccessDenied(f"no flag {str(flag_id)[:20]!r} that you may open")
        return f

    def judged_codes(self, session: SessionRecord) -> list[str]:
        return self.store.judged_codes(self.session(session.id))

    def rep_clip_path(self, session: SessionRecord, rep: int) -> Path:
        return self.store.rep_clip_path(self.session(session.id), rep)

    def coach_reviewed_at(self, session: SessionRecord) -> Any:
        return self.store.coach_reviewed_at(self.session(session.id))

    def reviewed_report(self, session_id: str, fmt: str = "html") -> str | None:
        return self.store.reviewed_report(self.session(session_id).id, fmt)

    def review_records(self, session_id: str) -> list[dict[str, Any]]:
        return self.store.review_records(self.session(session_id).id)

    def export_labels(self, **filters: Any) -> list[dict[str, Any]]:
        self.require_reviewer()
        return self.store.export_labels(owners=self.owners(), **filters)

    def export_flags_csv(self, **filters: Any) -> str:
        self.require_reviewer()
        return self.store.export_flags_csv(owners=self.owners(), **filters)

    # ------------------------------------------------------------------ analysis jobs
    def job(self, job_id: Any) -> JobRecord | None:
        """The job if it is for an athlete this user sees (None otherwise, or if unknown)."""
        job = self.store.get_job(job_id) if isinstance(job_id, str) else None
        if job is None:
            return None
        if self.user is None:
            return job
        if job.session_id and self.session_or_none(job.session_id) is None:
            return None
        return job if str(job.request.get("athlete", "")) in self.athletes() else None

    def video_job(self, session_id: str) -> JobRecord | None:
        """The job still making this session's annotated video, if this user may see the session."""
        if self.session_or_none(session_id) is None:
            return None
        return self.store.video_job(session_id)

    def interrupted_jobs(self) -> list[JobRecord]:
        return [j for j in self.store.interrupted_jobs() if self.job(j.id) is not None]

    def upload_athlete(self, name: str) -> str:
        """The athlete name an upload or live session is recorded under for this user."""
        if self.user is None:
            return name
        if not self.user.is_coach:
            return self.user.name
        if name not in self.roster_names():
            raise AccessDenied("choose an athlete of your roster (Athletes page) for this clip")
        return name

    # ------------------------------------------------------------------ reviews (coaches)
    def set_review(self, flag_id: int, **changes: Any) -> FlagRecord:
        self.require_reviewer()
        return self.store.set_review(self.flag(flag_id).id, **changes)

    def add_comment(self, flag_id: int, text: str, **kw: Any) -> FlagRecord:
        self.require_reviewer()
        return self.store.add_comment(self.flag(flag_id).id, text, **kw)

    def add_missed_fault(self, session_id: str, rep: int, code: str, **kw: Any) -> FlagRecord:
        self.require_reviewer()
        return self.store.add_missed_fault(self.session(session_id).id, rep, code, **kw)

    def mark_session_reviewed(self, session_id: str) -> SessionRecord:
        self.require_reviewer()
        return self.store.mark_session_reviewed(self.session(session_id).id)

    def delete_session(self, session_id: str) -> None:
        self.require_reviewer()
        self.store.delete_session(self.session(session_id).id)

    # ------------------------------------------------------------------ the roster
    def _managed(self, name: str) -> str:
        self.require_reviewer()
        if self.user is not None and name not in self.roster_names():
            raise AccessDenied(f"no athlete {str(name)[:80]!r} on your roster")
        return name

    def create_athlete(self, name: str, password: str | None = None) -> str:
        """Single-user app: a name. With accounts: an athlete account (``password``) on this coach's roster."""
        self.require_reviewer()
        if self.user is None:
            return self.store.create_athlete(name)
        if not password:
            raise StoreError("password: an athlete account needs one")
        athlete = self.store.add_user(name, "athlete", password)
        self.store.add_to_roster(self.user.name, athlete.name)
        return athlete.name

    def rename_athlete(self, old: str, new: str) -> str:
        return self.store.rename_athlete(self._managed(old), new)

    def merge_athletes(self, source: str, target: str) -> str:
        return self.store.merge_athletes(self._managed(source), self._managed(target))

    def delete_athlete(self, name: str) -> int:
        return self.store.delete_athlete(self._managed(name))
