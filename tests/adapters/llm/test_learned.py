"""The learned model's choices are made from out-of-fold reviews only (triage/adapters/llm/learned.py)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from triage.adapters.llm import evaluation, learned
from triage.adapters.llm.base import TicketInput
from triage.adapters.llm.baseline import baseline_predict
from triage.adapters.llm.local import LocalTriageModel, local_model_train

EVAL = Path(__file__).resolve().parents[2] / "fixtures" / "eval"
SCORED = ("category", "priority", "queue")


def test_offsets_move_the_boundary_of_a_value_its_scores_undercount():
    rng = np.random.default_rng(0)
    which = rng.choice(3, size=600, p=[0.6, 0.3, 0.1])
    decision = rng.normal(0.0, 0.3, size=(600, 3))
    decision[np.arange(600), which] += 1.0
    decision[:, 2] -= 1.2  # the rare value's scorer sits too low: it is almost never chosen
    before = learned.out_of_fold_macro_f1(decision, which, np.zeros(3))
    offsets = learned.choose_offsets(decision, which)
    assert offsets[2] - offsets[:2].max() >= 0.5
    assert learned.out_of_fold_macro_f1(decision, which, offsets) >= before + 0.2


def test_no_offsets_when_the_scores_are_already_right_or_a_shift_would_fix_only_a_ticket_or_two():
    which = np.repeat(np.arange(4), 50)
    decision = np.eye(4)[which]
    assert not learned.choose_offsets(decision, which).any()
    decision[0] = [0.0, 0.9, 0.0, 0.0]  # one wrong ticket: a shift would fix it, but it is one ticket
    assert not learned.choose_offsets(decision, which).any()


def test_fast_macro_f1_is_sklearns():
    from sklearn.metrics import f1_score

    rng = np.random.default_rng(1)
    for _ in range(50):
        k = int(rng.integers(2, 7))
        truth, guess = rng.integers(0, k, 40), rng.integers(0, k, 40)
        expected = f1_score(
            truth, guess, labels=sorted(set(truth) | set(guess)), average="macro", zero_division=0
        )
        assert learned._macro_f1(truth, guess, k) == pytest.approx(expected)


def _noise_samples(values: tuple[str, ...], n: int = 120) -> list[learned.Sample]:
    """Labels that the text cannot predict: every ticket has its own words, its label is a coin."""
    rng = np.random.default_rng(3)
    words = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel"]
    return [
        learned.Sample(
            text=f"ticket{i} {' '.join(rng.choice(words, 3))} code{i * 7919 % 1000}",
            labels={"category": str(rng.choice(values[:2]))},
        )
        for i in range(n)
    ]


def _train(samples, monkeypatch, taxonomy):
    seen: list[np.ndarray] = []
    choose = learned.choose_offsets

    def spy(decision, which):
        seen.append((decision.copy(), which.copy()))
        return choose(decision, which)

    monkeypatch.setattr(learned, "choose_offsets", spy)
    model = learned.train(
        samples=samples,
        taxonomy=taxonomy,
        prior=lambda texts: {n: np.full((len(texts), len(taxonomy.values(n))), 0.5) for n in learned.FIELDS},
        version="t",
        taxonomy_key="k",
    )
    return model, seen


@pytest.fixture(scope="module")
def small_taxonomy():
    return evaluation.taxonomy_load(EVAL / "taxonomy.json")


def test_offsets_are_chosen_on_out_of_fold_decisions_only(monkeypatch, small_taxonomy):
    # Fitted on the rows it scores, an SVM memorises unique words and gets coin-flip labels right;
    # scored out of fold it cannot: what choose_offsets sees must be at chance level.
    samples = _noise_samples(small_taxonomy.values("category"))
    model, seen = _train(samples, monkeypatch, small_taxonomy)
    assert seen  # the category field was trained with folds
    for decision, which in seen:
        agreement = float(np.mean(decision.argmax(axis=1) == which))
        assert agreement < 0.7
    fitted = model.fields["category"]
    texts = [s.text for s in samples]
    features = learned._features(
        learned.union_transform(model.vectorizer, texts), np.full((len(texts), len(fitted.values)), 0.5)
    )
    in_sample = np.asarray(fitted.values)[fitted.probabilities(features).argmax(axis=1)]
    assert np.mean(in_sample == np.asarray([s.labels["category"] for s in samples])) > 0.9


def test_suspects_for_a_fold_are_decided_without_that_folds_labels():
    n, folds = 80, 4
    fold_of = np.arange(n) % folds
    which = np.arange(n) % 2
    fits: list[set[int]] = []

    def fit(keep):
        fits.append(set(np.unique(fold_of[keep]).tolist()))
        return learned.NBLinear(classes_=np.array(["a", "b"]), coef_=np.zeros((1, 3)), intercept_=np.zeros(1))

    x = learned.sparse.csr_matrix(np.ones((n, 3)))
    learned._filtered_out_of_fold(fit, x, which, fold_of, 2)
    pair_fits, fold_fits = fits[:-folds], fits[-folds:]
    assert len(pair_fits) == folds * (folds - 1) // 2
    assert {frozenset(set(range(folds)) - used) for used in pair_fits} == {
        frozenset((f, g)) for f in range(folds) for g in range(f + 1, folds)
    }
    for f, used in enumerate(fold_fits):
        assert f not in used


def _generator():
    spec = importlib.util.spec_from_file_location("make_sets", EVAL / "make_sets.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_trained_model_beats_the_baseline_on_a_small_generated_set():
    # A shop-like set (bilingual, 12% wrong labels, 20:1 queues) from another seed than the shipped
    # one; measured ours - baseline: type +0.03, priority +0.07, queue +0.07.
    generator = _generator()
    rows = generator.make_set(**{**generator.SETS["shop"], "seed": 5, "rows": 700})
    taxonomy = evaluation.taxonomy_load(EVAL / "shop_taxonomy.json")
    train, test = rows[:490], rows[490:]

    def inputs(part):
        return [TicketInput(ticket_id=i, subject=r["subject"], body=r["body"]) for i, r in enumerate(part)]

    labels = [{f: r[f] for f in SCORED} for r in train]
    trained = local_model_train(
        labeled=list(zip(inputs(train), labels, strict=True)), taxonomy=taxonomy, version="t"
    )
    outcomes = LocalTriageModel(trained=trained).triage_many(inputs(test), taxonomy)
    baseline = baseline_predict(
        train_texts=[f"{r['subject']}\n{r['body']}" for r in train],
        train_labels=labels,
        test_texts=[f"{r['subject']}\n{r['body']}" for r in test],
        fields=SCORED,
    )
    for field, margin in (("category", 0.0), ("priority", 0.03), ("queue", 0.03)):
        truth = [r[field] for r in test]
        ours = learned.field_scores(truth, [getattr(o.result, field).value for o in outcomes])["macro_f1"]
        theirs = learned.field_scores(truth, baseline[field])["macro_f1"]
        assert ours >= theirs + margin, (field, ours, theirs)
