"""The demo's grammar corpus: the notes' sentences, the split, vocabularies, batches."""
import numpy as np
import pytest

from tinygrad_tf.demo import corpus as C
from tinygrad_tf.nn import functional as F


@pytest.fixture(scope="module")
def data():
    return C.build()


def translations(data):
    return {p.english: p.japanese for p in data.train + data.test}


def test_the_notes_sentences_have_the_notes_japanese(data):
    ja = translations(data)
    assert ja["the cat sat on the mat ."] == "猫 が マット の 上 に 座った"
    assert C.tokenize("The cat sat on the mat.") == "the cat sat on the mat .".split()
    tired = C.tokenize("The animal didn't cross the street because it was too tired.")
    wide = C.tokenize("The animal didn't cross the street because it was too wide.")
    assert ja[" ".join(tired)] == "動物 は 疲れ すぎて いた ので 通り を 渡ら なかった"
    assert ja[" ".join(wide)] == "通り が 広 すぎた ので 動物 は 渡ら なかった"
    train = {p.english for p in data.train}
    assert {"the cat sat on the mat .", " ".join(tired), " ".join(wide)} <= train


def test_it_is_translated_as_its_referent_which_the_adjective_decides(data):
    its = [p for p in data.train + data.test if p.is_it]
    assert len(its) == len(C.SUBJECTS) * len(C.CROSSABLE) * (len(C.TOO_ANIMAL) + len(C.TOO_PLACE))
    for p in its:
        adjective = p.english.split()[-2]
        assert p.referent == (p.subject if adjective in C.TOO_ANIMAL else p.place)
        first = (C.SUBJECTS | C.PLACES)[p.referent][0]
        assert p.japanese.split()[0] == first                  # the Japanese names it first
        assert "it" in p.english.split()
    assert {p.referent == p.subject for p in its} == {True, False}


def test_split_is_disjoint_and_holds_out_subject_place_pairs(data):
    train = {p.english for p in data.train}
    test = {p.english for p in data.test}
    assert not train & test
    assert len(train) == len(data.train) and len(test) == len(data.test)    # no duplicates
    assert len(train) + len(test) == len(C.all_pairs())
    seen = {(p.subject, p.place) for p in data.train}
    assert data.held_out_pairs and not seen & data.held_out_pairs
    assert {(p.subject, p.place) for p in data.test} == data.held_out_pairs
    # every held-out sentence pairs a subject and a place that never met in training,
    # and the held-out part has "it" sentences of both kinds
    test_its = [p for p in data.test if p.is_it]
    assert {p.referent == p.subject for p in test_its} == {True, False}
    # yet every word of the held-out part is known from training
    for p in data.test:
        assert not data.src_vocab.unknown(p.english) and not data.tgt_vocab.unknown(p.japanese)


def test_build_is_deterministic_and_seeded():
    a, b, c = C.build(), C.build(), C.build(seed=1)
    assert [p.english for p in a.test] == [p.english for p in b.test]
    assert a.src_vocab == b.src_vocab and a.tgt_vocab == b.tgt_vocab
    assert a.held_out_pairs != c.held_out_pairs


def test_vocab_specials_unknown_words_and_decoding(data):
    v = data.tgt_vocab
    assert v.itos[:4] == ["<pad>", "<bos>", "<eos>", "<unk>"]
    assert (v.pad, v.bos, v.eos, v.unk) == (0, 1, 2, 3)
    ids = v.encode("猫 が ペンギン", bos=True, eos=True)
    assert ids[0] == v.bos and ids[-1] == v.eos and ids[3] == v.unk
    assert v.unknown("猫 が ペンギン") == ["ペンギン"]
    assert v.decode(ids + [v.pad, v.stoi["猫"]]) == ["猫", "が", "<unk>"]      # stops at <eos>
    assert C.tokenize("The  Dog slept on the mat") == ["the", "dog", "slept", "on", "the", "mat", "."]


def test_batch_pads_and_the_padding_mask_hides_it(data):
    pairs = [data.train[0], next(p for p in data.train if p.is_it)]
    src, tgt = data.batch(pairs)
    lengths = [len(p.english.split()) for p in pairs]
    assert src.shape == (2, max(lengths)) and src.dtype == np.int64
    assert tgt.shape == (2, max(len(p.japanese.split()) for p in pairs) + 2)
    assert (src[0, lengths[0]:] == 0).all() and (src[0, :lengths[0]] != 0).all()
    assert (tgt[:, 0] == data.tgt_vocab.bos).all()
    assert data.tgt_vocab.decode(tgt[0]) == pairs[0].japanese.split()
    mask = F.padding_mask(src, data.src_vocab.pad)
    assert mask.shape == (2, 1, 1, src.shape[1])
    np.testing.assert_array_equal(mask[:, 0, 0], np.arange(src.shape[1]) < np.array(lengths)[:, None])


def test_romaji_covers_every_japanese_word(data):
    for word in data.tgt_vocab.itos[4:]:
        assert C.romaji(word).isascii() and C.romaji(word).isalpha(), word
