"""How the Rasa server is started and the fixes to its serving path: bot/lean.py (TensorFlow kept out
of a server whose model does not need it) and bot/speedups.py (same behaviour as Rasa, less work).
Speed itself is measured by `make bench`, not here."""
from __future__ import annotations

import asyncio
import io
import json
import subprocess
import sys
import tarfile
import textwrap
from pathlib import Path

import pytest

from conftest import ROOT


def run_python(code: str, timeout: int = 240) -> str:
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=ROOT, capture_output=True,
                          text=True, timeout=timeout)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout


# ------------------------------------------------------------------------------------------ lean
def test_served_model_answers_without_importing_tensorflow(model_path):
    out = run_python(f"""
        import asyncio, json, sys
        from bot import lean
        deferred = lean.install({str(model_path)!r})
        from rasa.core.agent import Agent
        from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
        agent = Agent.load({str(model_path)!r})
        out = CollectingOutputChannel()
        asyncio.run(agent.handle_message(UserMessage("借呗逾期了还不上", out, "lean-test")))
        print(json.dumps({{"deferred": deferred, "tf": "tensorflow" in sys.modules,
                           "texts": [m.get("text") for m in out.messages]}}, ensure_ascii=False))
    """)
    result = json.loads(out.strip().splitlines()[-1])
    assert result["deferred"] is True
    assert result["tf"] is False, "TensorFlow was imported while serving a model without TF components"
    assert any(t and "方案" in t for t in result["texts"]), result["texts"]


def test_placeholders_become_the_real_classes_when_used():
    out = run_python("""
        import sys
        from bot import lean
        lean.install()
        from rasa.utils import train_utils
        placeholder = train_utils.RasaTrainingLogger
        assert "tensorflow" not in sys.modules
        assert "deferred" in repr(placeholder)
        logger = placeholder(3, silent=True)          # calling it imports the real module
        import rasa.utils.tensorflow.callback as real
        assert "tensorflow" in sys.modules
        assert type(logger) is real.RasaTrainingLogger
        assert isinstance(logger, placeholder) and issubclass(real.RasaTrainingLogger, placeholder)
        assert train_utils.RasaBatchDataGenerator.__name__ == "RasaBatchDataGenerator"
        print("ok")
    """)
    assert out.strip().endswith("ok")


def _fake_model(tmp_path: Path, uses: list) -> Path:
    meta = {"train_schema": {"nodes": {}}, "predict_schema": {"nodes": {f"n{i}": {"uses": u} for i, u in enumerate(uses)}}}
    path = tmp_path / "model.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        data = json.dumps(meta).encode()
        info = tarfile.TarInfo("metadata.json")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    return path


def test_a_model_with_tensorflow_components_is_served_as_rasa_does(tmp_path, model_path):
    from bot import lean

    assert lean.model_needs_tensorflow(str(model_path)) is False
    diet = _fake_model(tmp_path, ["rasa.nlu.classifiers.diet_classifier.DIETClassifier"])
    assert lean.model_needs_tensorflow(str(diet)) is True
    assert lean.model_needs_tensorflow(str(tmp_path / "missing.tar.gz")) is True
    assert lean.model_needs_tensorflow(None) is True


def test_serve_finds_the_model_argument():
    from bot.serve import model_argument

    assert model_argument(["run", "--model", "m.tar.gz", "--port", "1"]) == "m.tar.gz"
    assert model_argument(["run", "--model=m.tar.gz"]) == "m.tar.gz"
    assert model_argument(["run", "-m", "x"]) == "x"
    assert model_argument(["run"]) is None


def test_make_run_and_tests_start_rasa_through_bot_serve():
    assert '-m bot.serve run --model' in (ROOT / "scripts/run.sh").read_text()
    assert '-m bot.serve run --model' in (ROOT / "scripts/run_scaled.sh").read_text()


# -------------------------------------------------------------------------------------- speedups
def test_action_reply_validation_is_unchanged():
    from jsonschema import ValidationError
    from rasa.core.actions.action import RemoteAction

    from bot import speedups

    speedups.install()
    action = RemoteAction("action_x", None)
    assert action._validate_action_result({"events": [{"event": "slot", "name": "a", "value": 1}], "responses": []})
    assert action._validate_action_result({})
    for bad in ({"events": "nope"}, {"events": [{"event": 3}]}, {"responses": [1]}):
        with pytest.raises(ValidationError) as info:
            action._validate_action_result(bad)
        assert "Failed to validate Action server response" in info.value.message  # Rasa's own message
    # the schema is checked once and its validator kept
    assert speedups.validator_for(RemoteAction.action_response_format_spec()) is speedups.validator_for(
        RemoteAction.action_response_format_spec())


def test_event_lookup_is_unchanged():
    from rasa.shared.core import events
    from rasa.shared.utils.common import all_subclasses

    from bot import speedups

    speedups.install()
    for cls in all_subclasses(events.Event):
        if cls.type_name in {"topic"}:
            continue
        expected = next(c for c in all_subclasses(events.Event) if c.type_name == cls.type_name)
        assert events.Event.resolve_by_type(cls.type_name) is expected
    assert events.Event.resolve_by_type("topic") is None
    assert events.Event.resolve_by_type("nonsense", default=events.SlotSet) is events.SlotSet
    with pytest.raises(ValueError):
        events.Event.resolve_by_type("nonsense")
    restored = events.Event.from_parameters({"event": "slot", "name": "debt_total", "value": 12000})
    assert isinstance(restored, events.SlotSet) and restored.value == 12000


def test_action_server_connection_is_reused():
    """Two calls through Rasa's EndpointConfig use one aiohttp session (one kept-alive connection)."""
    from aiohttp import web
    from rasa.utils.endpoints import EndpointConfig

    from bot import speedups

    speedups.install()
    peers = []

    async def handler(request):
        peers.append(request.transport.get_extra_info("peername"))
        return web.json_response({"events": [], "responses": []})

    async def main():
        app = web.Application()
        app.router.add_post("/webhook", handler)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]
        endpoint = EndpointConfig(url=f"http://127.0.0.1:{port}/webhook")
        first = await endpoint.request(json={"a": 1}, method="post")
        second = await endpoint.request(json={"a": 2}, method="post")
        await speedups.close_sessions()
        await runner.cleanup()
        return first, second

    first, second = asyncio.run(main())
    assert first == second == {"events": [], "responses": []}
    assert len(peers) == 2 and peers[0] == peers[1], peers  # same client port: the connection was reused


def test_graph_walk_gives_what_dask_gives():
    import dask

    from bot.speedups import run_graph

    calls = []

    def node(name):
        def run(*inputs):
            calls.append(name)
            return name, [value for _, value in inputs]
        return run

    graph = {
        "a": ("a", 1),  # an input, as Rasa adds them: a plain (name, value) tuple
        "b": (node("b"), "a"),
        "c": (node("c"), "a", "b"),
        "d": (node("d"), "b", "c"),
        "unused": (node("unused"), "a"),
    }
    assert run_graph(graph, ["d", "c"]) == dask.get(graph, ["d", "c"])
    calls.clear()
    run_graph(graph, ["d", "c"])
    assert sorted(calls) == ["b", "c", "d"]  # each needed node once, nothing else

    def broken(*_):
        raise ValueError("boom")

    with pytest.raises(ValueError, match="boom"):
        run_graph({"x": (broken,)}, ["x"])


def test_rasa_graph_runner_uses_the_walk_and_answers_the_same(agent):
    """The patched runner (installed with the bot package) parses exactly as dask does."""
    import dask
    from rasa.core.channels.channel import UserMessage

    import bot  # noqa: F401  (installs the speed-ups)
    from bot import speedups

    processor = agent.processor
    runner = processor.graph_runner
    loop = asyncio.new_event_loop()
    try:
        ours = loop.run_until_complete(processor.parse_message(UserMessage("借呗欠了两万三还不上了")))
        original = speedups.run_graph
        speedups.run_graph = lambda graph, targets: dask.get(graph, targets)
        try:
            theirs = loop.run_until_complete(processor.parse_message(UserMessage("借呗欠了两万三还不上了")))
        finally:
            speedups.run_graph = original
    finally:
        loop.close()
    assert type(runner).run.__module__ == "bot.speedups"
    assert ours["intent"] == theirs["intent"] and ours["entities"] == theirs["entities"]


def test_classifier_weights_are_laid_out_for_the_product_and_answer_the_same(agent):
    """The served classifier keeps coef_ in Fortran order (its transpose needs no copy per message)
    and gives bit-identical probabilities to the C-order weights scikit-learn trained."""
    import numpy as np
    from rasa.nlu.classifiers.logistic_regression_classifier import LogisticRegressionClassifier
    import bot  # noqa: F401  (installs the speed-ups)

    nodes = agent.processor.graph_runner._instantiated_nodes.values()
    classifiers = [n._component for n in nodes if isinstance(getattr(n, "_component", None), LogisticRegressionClassifier)]
    assert classifiers, "the served model has a LogisticRegressionClassifier"
    clf = classifiers[0].clf
    assert clf.coef_.flags["F_CONTIGUOUS"] and clf.coef_.T.flags["C_CONTIGUOUS"]

    from scipy.sparse import random as sparse_random

    X = sparse_random(5, clf.coef_.shape[1], density=0.01, format="csr", random_state=0)
    ours = clf.predict_proba(X)
    fortran = clf.coef_
    try:
        clf.coef_ = np.ascontiguousarray(fortran)  # the layout scikit-learn trained
        theirs = clf.predict_proba(X)
    finally:
        clf.coef_ = fortran
    assert np.array_equal(ours, theirs)


def test_action_server_json_is_the_same_json():
    """What goes to the action server decodes to exactly what json.dumps would have sent."""
    import json

    import numpy as np

    from bot.speedups import dumps

    tracker = {"sender_id": "u", "slots": {"debt": 12000.5, "income": None, "ok": True, "url": "a/b"},
               "latest_message": {"text": "借呗欠了两万😭\n\"引号\"", "intent": {"confidence": np.float64(0.93)}},
               "events": [{"event": "user", "timestamp": 1764830000.123456, "parse_data": {"entities": []}}]}
    assert json.loads(dumps(tracker)) == json.loads(json.dumps(tracker))
    odd = {"n": np.int64(3)}  # ujson refuses numpy ints: the standard library's answer (its error)
    with pytest.raises(TypeError):
        json.dumps(odd)
    with pytest.raises(TypeError):
        dumps(odd)
    assert dumps({"x": float("inf")}) in (json.dumps({"x": float("inf")}), '{"x":Infinity}')


def test_rule_matching_finds_the_same_rules_as_rasa(agent):
    """The shortened rule filter returns exactly the keys of Rasa's own loop, on state histories
    made of the trained rules' own states (random concatenations, long and short)."""
    import random

    from rasa.core.policies.rule_policy import RULES, RULES_FOR_LOOP_UNHAPPY_PATH, RulePolicy

    import bot  # noqa: F401  (installs the speed-ups)
    from bot.speedups import possible_rule_keys

    def rasa_loop(policy, lookup, states):  # RulePolicy._get_possible_keys in Rasa 3.6.21
        possible_keys = set(lookup.keys())
        for i, state in enumerate(reversed(states)):
            possible_keys = set(filter(lambda _key: policy._is_rule_applicable(_key, i, state), possible_keys))
        return possible_keys

    nodes = agent.processor.graph_runner._instantiated_nodes.values()
    policy = next(n._component for n in nodes if isinstance(getattr(n, "_component", None), RulePolicy))
    assert type(policy)._get_possible_keys.__module__ == "bot.speedups"
    rng = random.Random(7)
    keys = sorted(policy.lookup[RULES])
    matched = 0
    for _ in range(150):
        states = []
        for key in rng.sample(keys, rng.randint(1, 6)):
            states += policy._rule_key_to_state(key)
        for lookup in (policy.lookup[RULES], policy.lookup[RULES_FOR_LOOP_UNHAPPY_PATH]):
            ours = possible_rule_keys(policy, lookup, states)
            assert ours == rasa_loop(policy, lookup, states)
            matched += bool(ours)
    assert matched > 20  # the histories do match rules, so the comparison means something


def test_past_states_kept_per_tracker_equal_rasas_replay(agent):
    """After every event of random conversations (forms, slots, reverts, restarts, sessions), the
    kept replay gives exactly the states Rasa's full replay gives; changing what it handed out
    changes nothing later."""
    import random

    from rasa.shared.core.domain import Domain
    from rasa.shared.core.events import (ActionExecuted, ActionExecutionRejected, ActionReverted, ActiveLoop,
                                         LoopInterrupted, Restarted, SessionStarted, SlotSet, UserUttered,
                                         UserUtteranceReverted)
    from rasa.shared.core.trackers import DialogueStateTracker

    import bot  # noqa: F401  (installs the speed-ups)

    domain = agent.domain
    patched = Domain.states_for_tracker_history
    original = patched.original
    rng = random.Random(11)
    intents = sorted(domain.intents)
    actions = sorted(a for a in domain.action_names_or_texts if a and not a.startswith("validate_"))
    forms = sorted(domain.form_names)
    slots = [s for s in domain.slots if s.type_name in ("text", "float", "bool", "categorical", "any")]
    assert forms and slots and len(intents) > 10

    def random_event(tracker):
        r = rng.random()
        if r < 0.25:
            return [ActionExecuted("action_listen"), UserUttered(
                "一句话", {"name": rng.choice(intents), "confidence": 0.9},
                [{"entity": e, "value": "1"} for e in rng.sample(sorted(domain.entities), 1)] if rng.random() < 0.3 else [])]
        if r < 0.5:
            return [ActionExecuted(rng.choice(actions))]
        if r < 0.62:
            slot = rng.choice(slots)
            value = {"bool": True, "float": 12000.0}.get(slot.type_name, "借呗")
            if slot.type_name == "categorical":
                value = rng.choice(slot.values)
            return [SlotSet(slot.name, value if rng.random() < 0.8 else None)]
        if r < 0.72:
            form = rng.choice(forms)
            return [ActionExecuted(form), ActiveLoop(form if rng.random() < 0.7 else None)]
        return [rng.choice([UserUtteranceReverted(), ActionReverted(), Restarted(), SessionStarted(),
                            LoopInterrupted(True), ActionExecutionRejected(rng.choice(forms))])]

    checked = 0
    for _ in range(40):
        tracker = DialogueStateTracker("t", domain.slots)
        tracker.update(ActionExecuted("action_session_start"))
        for _ in range(40):
            for event in random_event(tracker):
                tracker.update(event)
            if rng.random() < 0.4:  # several events between two predictions, as in a real turn
                continue
            for omit in (False, True):
                ours = patched(domain, tracker, omit_unset_slots=omit)
                assert ours == original(domain, tracker, omit_unset_slots=omit)
                for state in ours:  # a caller changing what it got must not change the next answer
                    state.pop("prev_action", None)
                    for sub in state.values():
                        sub.clear()
                checked += 1
    assert checked > 40 * 40
    # the ML form (rule-only turns ignored) is still Rasa's own code
    assert patched(domain, tracker, ignore_rule_only_turns=True, rule_only_data={"slots": [], "loops": []}) == \
        original(domain, tracker, ignore_rule_only_turns=True, rule_only_data={"slots": [], "loops": []})


def test_classifier_input_row_is_the_matrix_rasa_builds(agent):
    """The one-message fast path gives the same CSR matrix (values, indices, dtype) as Rasa's hstack."""
    import numpy as np
    from rasa.nlu.classifiers.logistic_regression_classifier import LogisticRegressionClassifier
    from rasa.shared.nlu.training_data.message import Message

    import bot  # noqa: F401  (installs the speed-ups)

    nodes = agent.processor.graph_runner._instantiated_nodes.values()
    graph = {n._node_name: n._component for n in nodes if getattr(n, "_component", None) is not None}
    classifier = next(c for c in graph.values() if isinstance(c, LogisticRegressionClassifier))
    fast, slow = LogisticRegressionClassifier._create_X, LogisticRegressionClassifier._create_X.original
    featurizers = [c for name, c in graph.items() if "Tokenizer" in name or "Featurizer" in name
                   or "Normaliser" in name]
    assert len(featurizers) >= 4
    for text in ["借呗欠了两万三还不上了", "催收打给我妈了", "hello", "😭😭", "每个月能还2000"]:
        message = Message.build(text)
        for component in featurizers:  # the graph's nodes are kept in pipeline order
            component.process([message])
        a, b = fast(classifier, [message]), slow(classifier, [message])
        assert a.format == b.format == "csr" and a.dtype == b.dtype and a.shape == b.shape
        assert np.array_equal(a.indptr, b.indptr) and np.array_equal(a.indices, b.indices)
        assert np.array_equal(a.data, b.data) and a.nnz > 0
        assert np.array_equal(classifier.clf.predict_proba(a), classifier.clf.predict_proba(b))
