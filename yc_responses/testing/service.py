"""The service's state and shared rules: stored runs, scripts and rules, ids, model URIs.

The route modules (:mod:`.responses_api`, :mod:`.chat`, :mod:`.operations`) read
and change a :class:`Service`; :class:`~yc_responses.testing.core.EmulatorCore`
holds one and calls them under its lock.
"""

from __future__ import annotations

import random
import threading
import time
import uuid
from collections import Counter, deque
from collections.abc import Callable, Mapping
from typing import Any

from yc_responses.uris import ModelURI, parse_model_uri

from . import payloads
from .answers import Answer, Conversation, unscripted_answer
from .runs import Run, RunKind
from .scenarios import InputMatcher, Outcome, input_matches
from .wire import ServiceError

__all__ = ["RETENTION", "Service", "check_temperature"]

RETENTION: dict[RunKind, float] = {"response": 30 * 86400.0, "operation": 3 * 86400.0}
"""How long the service keeps a run after its creation, in seconds: then it answers 404."""

_KNOWN_MODELS = {(scheme, name): owner for scheme, name, _, owner in payloads.MODELS}


class Service:
    """Runs, the outcomes scripted for the next ones, and the checks every route shares."""

    def __init__(
        self,
        *,
        folder_id: str,
        clock: Callable[[], float] = time.monotonic,
        seed: int = 0,
        background_duration: float | tuple[float, float] = 1.0,
        wall_start: float | None = None,
        service_refusals: bool = False,
    ) -> None:
        self.folder_id = folder_id
        self.service_refusals = service_refusals
        self.clock = clock
        self.seed = seed
        self.background_duration = background_duration
        self.lock = threading.RLock()
        self.rng = random.Random(seed)  # noqa: S311 (determinism, not security)
        # header ids draw apart, so that ids and durations of runs do not depend on the
        # number of other requests (polls) made before them
        self._header_rng = random.Random(seed + 2)  # noqa: S311
        self._t0 = clock()
        self._wall0 = time.time() if wall_start is None else wall_start
        self.runs: dict[str, Run] = {}
        self.script: deque[tuple[InputMatcher | None, Outcome]] = deque()
        self.rules: list[tuple[InputMatcher, Outcome]] = []
        self.default: Outcome | None = None
        self.creations: Counter[str] = Counter()
        self.created_by = "aje" + self.token(17)

    # --- ids and times -----------------------------------------------------------------------

    def token(self, length: int) -> str:
        """A seeded id of ``length`` characters, as the Operation service makes them."""
        alphabet = "abcdefghijklmnopqrstuv0123456789"
        return "".join(self.rng.choice(alphabet) for _ in range(length))

    def uuid(self) -> str:
        """A seeded uuid4."""
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def request_id(self) -> str:
        """An ``x-request-id`` value: a uuid4 of its own generator."""
        return str(uuid.UUID(int=self._header_rng.getrandbits(128), version=4))

    def trace_id(self) -> str:
        """An ``x-server-trace-id`` value: ``trace:span:parent:flags`` in hex."""
        rng = self._header_rng
        trace, span = f"{rng.getrandbits(64):016x}", f"{rng.getrandbits(64):016x}"
        return f"{trace}:{span}:{trace}:1"

    def wall(self, t: float) -> float:
        """The wall-clock time of clock time ``t``."""
        return self._wall0 + (t - self._t0)

    # --- runs --------------------------------------------------------------------------------

    def find(self, run_id: str, kind: RunKind) -> Run | None:
        """A stored run of ``kind``; ``None`` when unknown or past its retention."""
        run = self.runs.get(run_id)
        if run is None or run.kind != kind:
            return None
        if self.clock() >= run.created + RETENTION[kind]:
            del self.runs[run_id]
            return None
        return run

    def choose(self, input_text: str) -> Outcome | None:
        """The scripted outcome for an input: a queued script, then a rule, then the default."""
        for index, (matcher, outcome) in enumerate(self.script):
            if matcher is None or input_matches(matcher, input_text):
                del self.script[index]
                return outcome
        for matcher, outcome in self.rules:
            if input_matches(matcher, input_text):
                return outcome
        return self.default

    def decide(self, conversation: Conversation, max_tokens: int | None) -> tuple[Outcome, Answer]:
        """How a new run ends and what it answers: scripted, else as the request asks."""
        outcome = self.choose(conversation.input_text)
        if outcome is not None and outcome.tool_name is not None:
            return outcome, Answer(tool_name=outcome.tool_name, arguments=outcome.tool_arguments)
        derived = unscripted_answer(conversation, self.seed)
        if outcome is None:
            outcome = Outcome.completed()
            too_long = payloads.count_tokens(derived.text) > (max_tokens or float("inf"))
            if not derived.is_tool_call and too_long:
                outcome = Outcome.incomplete("max_output_tokens")
        if outcome.text is not None:
            return outcome, Answer(outcome.text)
        if outcome.kind == "incomplete":
            text = derived.text or payloads.default_answer(conversation.input_text)
            limit = max_tokens if max_tokens is not None else payloads.count_tokens(text) // 2
            return outcome, Answer(payloads.truncate_tokens(text, limit))
        return outcome, derived

    def new_run(
        self,
        *,
        kind: RunKind,
        run_id: str,
        conversation: Conversation,
        input_tokens: int,
        model: str,
        request: dict[str, Any],
        background: bool,
        max_tokens: int | None,
    ) -> Run:
        """Decide a new run's outcome and times, and store it."""
        outcome, answer = self.decide(conversation, max_tokens)
        now = self.clock()
        duration = 0.0
        if background:
            if outcome.after is not None:
                duration = outcome.after
            elif isinstance(self.background_duration, tuple):
                duration = self.rng.uniform(*self.background_duration)
            else:
                duration = self.background_duration
        queued = outcome.queued if outcome.queued is not None else duration / 4
        if not background:
            queued = 0.0
        ends = None if outcome.kind == "never" else now + max(duration, queued)
        prefix = "fc_" if answer.is_tool_call else "msg_"
        run = Run(
            id=run_id,
            kind=kind,
            created=now,
            outcome=outcome,
            started=now + queued,
            ends=ends,
            answer=answer,
            input_text=conversation.input_text,
            input_tokens=input_tokens,
            model=model,
            request=request,
            item_id=prefix + self.uuid().replace("-", ""),
            background=background,
        )
        self.runs[run_id] = run
        self.creations[conversation.input_text] += 1
        return run

    # --- shared checks -----------------------------------------------------------------------

    def model(  # the service's order of checks
        self,
        value: object,
        header_folder: str | None,
        scheme: str,
        *,
        completion_api: bool = False,
    ) -> ModelURI:
        """Check a model URI the way the service does.

        With ``service_refusals`` every refusal is a 400, as the service answers;
        without, an unknown model is a 404 and another folder a 403.
        """
        shape = f"{scheme}://<folder>/<model>[/<version>]"
        if not isinstance(value, str) or not value:
            raise ServiceError(400, f"model is required: a URI like {shape}")
        if "://" not in value:
            raise ServiceError(400, f"invalid model URI {value!r}: expected {shape}")
        try:
            uri = parse_model_uri(value)
        except ValueError:
            raise ServiceError(400, f"malformed model URI {value!r}: expected {shape}") from None
        if uri.scheme != scheme:
            raise ServiceError(400, f"model URI {value!r} is not a {scheme}:// model")
        if header_folder and header_folder != uri.folder_id:
            raise ServiceError(
                400, "the folder of the model URI does not match the folder of the request"
            )
        if uri.folder_id != self.folder_id:
            raise ServiceError(
                400 if self.service_refusals else 403,
                f"Specified folder ID '{uri.folder_id}' does not match with service account "
                f"folder ID '{self.folder_id}'",
            )
        owner = _KNOWN_MODELS.get((uri.scheme, uri.name))
        if owner is None:
            raise ServiceError(
                400 if self.service_refusals else 404,
                f"invalid model URI {value!r}: unknown model {uri.name!r} (model not found)",
            )
        if completion_api and owner != "Yandex":
            raise ServiceError(
                400,
                f"invalid model URI {value!r}: {uri.name} is served only through the "
                "OpenAI-compatible API (/v1), not completionAsync",
            )
        return uri


def check_temperature(body: Mapping[str, Any], name: str = "temperature") -> None:
    """The service takes a temperature from 0 to 1."""
    value = body.get(name)
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        raise ServiceError(400, f"{name} must be a number from 0 to 1, not {value!r}")
