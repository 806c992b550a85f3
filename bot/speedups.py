"""Hot spots of Rasa 3.6's serving path, measured with cProfile (docs/performance.md) and fixed
without changing what Rasa does.

1. ``RemoteAction._validate_action_result`` calls ``jsonschema.validate`` for every action server
   reply. With jsonschema 4.17 that call first re-checks Rasa's (constant) events schema against the
   JSON-Schema meta-schema — about 100,000 Python calls, 20-45 ms per custom action, more than half
   of the CPU time of a whole turn. Here the schema is checked once and its validator kept; replies
   are validated exactly as before and an invalid one raises the same ``ValidationError``.
2. ``Event.resolve_by_type`` walks the whole ``Event`` class tree for every stored event it reads
   back (30 recursive calls per event): a name → class table, rebuilt if a new subclass appears.
3. ``rasa.utils.endpoints.EndpointConfig.request`` opens a new aiohttp session (and TCP connection)
   for every call to the action server; here one session per event loop is kept and reused.

4. ``DaskGraphRunner.run`` hands Rasa's graph to ``dask.get`` for every parse and every prediction
   (2-5 times a message). dask's synchronous scheduler costs about 1 ms per run for a graph of a
   dozen nodes (ordering, task-state bookkeeping), more than some of the nodes themselves. Here the
   same graph is evaluated by a plain memoised walk (``run_graph``), with dask's semantics: a task is
   a tuple whose first item is callable, its arguments that name graph keys are replaced by those
   keys' results, and every key is computed once. The minimal schema per set of targets is kept.

5. ``LogisticRegressionClassifier`` predicts with ``X @ coef_.T``; scikit-learn keeps ``coef_`` in C
   order, so its transpose is a Fortran-order view, and scipy's sparse × dense product copies the
   whole (features × intents) matrix into C order for every message: 1-2 ms a parse, about a tenth
   of a turn. Here ``coef_`` is stored in Fortran order once at load; the transpose is then
   C-contiguous, nothing is copied, and the products (hence the probabilities) are bit-identical.
6. Rasa posts the whole tracker to the action server as JSON; aiohttp encodes it with the standard
   ``json.dumps`` (about 5% of a turn). The kept session encodes with ``ujson`` (already installed
   with Sanic), falling back to ``json.dumps`` for anything ujson refuses.

7. ``RulePolicy._get_possible_keys`` filters every rule key against every state of the conversation,
   newest first, even after no key is left or after every remaining rule is shorter than the
   history already checked (for those ``_is_rule_applicable`` answers True without looking): with
   a long conversation that is thousands of calls per prediction, two predictions or more a turn.
   Here the filtering stops at those two points; the set of keys returned is the same.

8. ``Domain.states_for_tracker_history`` (a tracker's ``past_states``) replays the whole conversation
   into a fresh tracker for every prediction, to take the dialogue state before each action: about a
   tenth of a turn, growing with the conversation. RulePolicy (the only policy here) asks for the
   plain form (no ``ignore_rule_only_turns``), in which each state depends only on the replayed
   tracker at that point. So, per tracker object, the replayed tracker and the states so far are
   kept; the next call replays only the events added since, as long as the events Rasa applies
   (``applied_events``: reverts, restarts and loop rewinds taken into account) still start with the
   ones already replayed, object for object. Otherwise, and for the ML form, Rasa's own code runs.
   Each call hands out fresh copies of the states, so callers may change them as before.

9. ``LogisticRegressionClassifier._create_X`` builds each message's row with ``scipy.sparse.hstack``
   of the sparse features and an empty dense block (about 5% of a turn for a no-op). With one
   message and no dense features the row is the sparse features as CSR in the dtype hstack would
   give; the same matrix, so the same probabilities.

``install()`` runs when the ``bot`` package is imported, i.e. in every process that loads this
project's components, channels or tracker store; it is idempotent.
"""
from __future__ import annotations

import json
import logging
from typing import Any, Dict, Optional, Text, Type

logger = logging.getLogger(__name__)
_installed = False


# ---------------------------------------------------------------------------------- 1. jsonschema
_validators: Dict[str, Any] = {}


def validator_for(schema: Dict[str, Any]) -> Any:
    """A ready validator for ``schema``: the schema is checked against its meta-schema only once."""
    key = json.dumps(schema, sort_keys=True)
    validator = _validators.get(key)
    if validator is None:
        from jsonschema.validators import validator_for as pick

        cls = pick(schema)
        cls.check_schema(schema)
        validator = _validators[key] = cls(schema)
    return validator


def validate(instance: Any, schema: Dict[str, Any]) -> None:
    """``jsonschema.validate(instance, schema)`` without re-checking the schema each time."""
    from jsonschema.exceptions import best_match

    error = best_match(validator_for(schema).iter_errors(instance))
    if error is not None:
        raise error


def _patch_action_validation() -> None:
    from jsonschema import ValidationError
    from rasa.core.actions import action as rasa_action

    original = rasa_action.RemoteAction._validate_action_result

    def _validate_action_result(self: Any, result: Dict[Text, Any]) -> bool:
        try:
            validate(result, self.action_response_format_spec())
            return True
        except ValidationError:
            return original(self, result)  # Rasa's own path, for its error message

    rasa_action.RemoteAction._validate_action_result = _validate_action_result


# ------------------------------------------------------------------------------ 2. event classes
def _patch_event_lookup() -> None:
    from rasa.shared.core import events
    from rasa.shared.utils.common import all_subclasses

    table: Dict[Text, Type[events.Event]] = {}
    known = [0]
    original = events.Event.resolve_by_type

    def resolve_by_type(type_name: Text, default: Optional[Type[events.Event]] = None) -> Optional[Type[events.Event]]:
        cls = table.get(type_name)
        if cls is not None:
            return cls
        subclasses = all_subclasses(events.Event)
        if len(subclasses) != known[0]:
            table.clear()
            for sub in reversed(subclasses):  # the first match wins, as in Rasa's loop
                table[sub.type_name] = sub
            known[0] = len(subclasses)
            cls = table.get(type_name)
            if cls is not None:
                return cls
        return original(type_name, default)  # unknown names: Rasa's own answer (default, None or error)

    events.Event.resolve_by_type = staticmethod(resolve_by_type)


# ----------------------------------------------------------------------- 3. action server session
KEEPALIVE_S = 2.0  # below Sanic's 5 s keep-alive timeout, so a pooled connection is never stale


try:
    import ujson
except ImportError:  # pragma: no cover - installed with Sanic
    ujson = None


def dumps(value: Any) -> str:
    """JSON for the action server: ujson where it can, else the standard library's output."""
    if ujson is not None:
        try:
            return ujson.dumps(value, ensure_ascii=True, escape_forward_slashes=False)
        except (TypeError, OverflowError, ValueError):
            pass
    return json.dumps(value)


def _patch_endpoint_session() -> None:
    import asyncio
    import weakref

    import aiohttp
    from rasa.utils import endpoints

    sessions: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Dict[str, aiohttp.ClientSession]]"
    sessions = weakref.WeakKeyDictionary()

    class _Reused:
        """Looks like ``aiohttp.ClientSession`` in ``async with``, but is not closed on exit."""

        def __init__(self, session: aiohttp.ClientSession) -> None:
            self.session = session

        async def __aenter__(self) -> aiohttp.ClientSession:
            return self.session

        async def __aexit__(self, *exc: Any) -> None:
            return None

    original = endpoints.EndpointConfig.session

    def session(self: Any) -> Any:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return original(self)
        # a session depends only on the endpoint's headers and basic auth (see Rasa's own session())
        key = json.dumps([self.headers, self.basic_auth], sort_keys=True, default=str)
        per_loop = sessions.setdefault(loop, {})
        current = per_loop.get(key)
        if current is None or current.closed:
            auth = None
            if self.basic_auth:
                auth = aiohttp.BasicAuth(self.basic_auth["username"], self.basic_auth["password"])
            current = per_loop[key] = aiohttp.ClientSession(
                headers=self.headers,
                auth=auth,
                timeout=aiohttp.ClientTimeout(total=endpoints.DEFAULT_REQUEST_TIMEOUT),
                connector=aiohttp.TCPConnector(keepalive_timeout=KEEPALIVE_S),
                json_serialize=dumps,
            )
        return _Reused(current)

    endpoints.EndpointConfig.session = session
    _sessions.append(sessions)


_sessions: list = []


# ------------------------------------------------------------------------------ 4. graph runner
def run_graph(graph: Dict[str, Any], targets: list) -> tuple:
    """``dask.get(graph, targets)`` for a list of targets, evaluated in the calling thread."""
    results: Dict[str, Any] = {}

    def value(key: str) -> Any:
        if key in results:
            return results[key]
        task = graph[key]
        if isinstance(task, tuple) and task and callable(task[0]):
            args = [value(a) if isinstance(a, str) and a in graph else a for a in task[1:]]
            result = task[0](*args)
        else:
            result = task
        results[key] = result
        return result

    return tuple(value(t) for t in targets)


def _patch_graph_runner() -> None:
    from rasa.engine.exceptions import GraphRunError
    from rasa.engine.runner.dask import DaskGraphRunner

    def run(self: Any, inputs: Optional[Dict[Text, Any]] = None, targets: Optional[list] = None) -> Dict[Text, Any]:
        run_targets = targets if targets else self._graph_schema.target_names
        kept = self.__dict__.setdefault("_xieshang_minimal", {})
        key = tuple(run_targets)
        if key not in kept:
            kept[key] = self._build_dask_graph(self._graph_schema.minimal_graph_schema(run_targets))
        graph = dict(kept[key])
        if inputs:
            self._add_inputs_to_graph(inputs, graph)
        try:
            return dict(run_graph(graph, list(run_targets)))
        except RuntimeError as e:
            raise GraphRunError("Error running runner.") from e

    DaskGraphRunner.run = run


async def close_sessions() -> None:
    """Close the kept sessions of the running event loop (at shutdown, or at the end of a test)."""
    import asyncio

    loop = asyncio.get_running_loop()
    for per_loop in _sessions:
        for session in per_loop.pop(loop, {}).values():
            await session.close()


# ------------------------------------------------------------------------ 5. classifier weights
def _patch_logreg_layout() -> None:
    import numpy as np
    from rasa.nlu.classifiers.logistic_regression_classifier import LogisticRegressionClassifier

    original = LogisticRegressionClassifier.load.__func__

    def load(cls: Any, *args: Any, **kwargs: Any) -> Any:
        component = original(cls, *args, **kwargs)
        clf = getattr(component, "clf", None)
        coef = getattr(clf, "coef_", None)
        if isinstance(coef, np.ndarray):
            clf.coef_ = np.asfortranarray(coef)
        return component

    LogisticRegressionClassifier.load = classmethod(load)


# ------------------------------------------------------------------------------ 7. rule matching
def possible_rule_keys(policy: Any, lookup: Dict[Text, Any], states: list) -> set:
    """``RulePolicy._get_possible_keys`` without the checks whose answer is already known."""
    possible = set(lookup.keys())
    lengths = policy.__dict__.setdefault("_xieshang_rule_lengths", {})

    def longest(keys: set) -> int:
        top = 0
        for key in keys:
            n = lengths.get(key)
            if n is None:
                n = lengths[key] = len(policy._rule_key_to_state(key))
            top = max(top, n)
        return top

    limit = longest(possible)
    for i, state in enumerate(reversed(states)):
        if not possible or i >= limit:  # nothing left, or every rule left is applicable from here
            break
        possible = {key for key in possible if policy._is_rule_applicable(key, i, state)}
        limit = longest(possible)
    return possible


def _patch_rule_keys() -> None:
    from rasa.core.policies.rule_policy import RulePolicy

    def _get_possible_keys(self: Any, lookup: Dict[Text, Any], states: list) -> set:
        return possible_rule_keys(self, lookup, states)

    RulePolicy._get_possible_keys = _get_possible_keys


# ------------------------------------------------------------------------------- 8. past states
class _Replay:
    __slots__ = ("domain", "applied", "tracker", "states")

    def __init__(self, domain: Any, tracker: Any) -> None:
        self.domain = domain
        self.applied: list = []
        self.tracker = tracker.init_copy()
        self.states: list = []


_replays: Dict[tuple, Any] = {}  # (id(tracker), omit_unset_slots) -> (weak ref, _Replay); gone with the tracker


def _copy_state(state: Dict[str, Any]) -> Dict[str, Any]:
    return {key: dict(sub) if isinstance(sub, dict) else sub for key, sub in state.items()}


def past_states(domain: Any, tracker: Any, omit_unset_slots: bool = False) -> list:
    """``domain.states_for_tracker_history(tracker, omit_unset_slots)`` (no rule-only turns ignored),
    replaying only the events applied since the last call for the same tracker."""
    import weakref

    from rasa.shared.core.events import ActionExecuted

    applied = tracker.applied_events()
    key = (id(tracker), bool(omit_unset_slots))
    kept = _replays.get(key)
    replay = kept[1] if kept is not None else None
    if replay is not None and (replay.domain is not domain or len(replay.applied) > len(applied)
                               or any(a is not b for a, b in zip(replay.applied, applied))):
        replay = None
    if replay is None:
        replay = _Replay(domain, tracker)
        _replays[key] = (weakref.ref(tracker, lambda _ref, key=key: _replays.pop(key, None)), replay)
    for event in applied[len(replay.applied):]:
        if isinstance(event, ActionExecuted):
            replay.states.append(domain._clean_state(domain.get_active_state(replay.tracker, omit_unset_slots)))
        replay.tracker.update(event)
    replay.applied = applied
    last = domain._clean_state(domain.get_active_state(replay.tracker, omit_unset_slots))
    return [_copy_state(state) for state in replay.states] + [last]


def _patch_past_states() -> None:
    from rasa.shared.core.domain import Domain
    from rasa.shared.core.trackers import DialogueStateTracker

    original = Domain.states_for_tracker_history

    def states_for_tracker_history(self: Any, tracker: Any, omit_unset_slots: bool = False,
                                   ignore_rule_only_turns: bool = False,
                                   rule_only_data: Optional[Dict[Text, Any]] = None) -> list:
        if ignore_rule_only_turns or type(tracker) is not DialogueStateTracker:
            return original(self, tracker, omit_unset_slots=omit_unset_slots,
                            ignore_rule_only_turns=ignore_rule_only_turns, rule_only_data=rule_only_data)
        return past_states(self, tracker, omit_unset_slots)

    states_for_tracker_history.original = original  # type: ignore[attr-defined]
    Domain.states_for_tracker_history = states_for_tracker_history


# ------------------------------------------------------------------------- 9. classifier input
def _patch_logreg_input() -> None:
    import numpy as np
    from rasa.nlu.classifiers.logistic_regression_classifier import LogisticRegressionClassifier
    from rasa.shared.nlu.constants import TEXT
    from scipy.sparse import csr_matrix

    original = LogisticRegressionClassifier._create_X

    def _create_X(self: Any, messages: list) -> Any:
        if len(messages) == 1:
            sparse = messages[0].get_sparse_features(attribute=TEXT)[1]
            dense = messages[0].get_dense_features(attribute=TEXT)[1]
            if sparse is not None and dense is None:
                row = csr_matrix(sparse.features)
                dtype = np.result_type(row.dtype, np.float64)  # what hstack with csr_matrix([]) gives
                return row if row.dtype == dtype else row.astype(dtype)
        return original(self, messages)

    LogisticRegressionClassifier._create_X = _create_X
    LogisticRegressionClassifier._create_X.original = original  # type: ignore[attr-defined]


def install() -> None:
    global _installed
    if _installed:
        return
    _installed = True
    for patch in (_patch_action_validation, _patch_event_lookup, _patch_endpoint_session, _patch_graph_runner,
                  _patch_logreg_layout, _patch_rule_keys, _patch_past_states,
                  _patch_logreg_input):
        try:
            patch()
        except Exception:  # an unexpected Rasa version: keep Rasa's own behaviour
            logger.warning("speed-up %s not applied", patch.__name__, exc_info=True)
