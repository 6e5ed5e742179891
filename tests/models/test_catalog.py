"""Published MusicVAEs by name or URL, downloaded from a loopback server laid out like Magenta's bucket:
resumed at any byte, verified against the manifest, installed whole, refused with reasons."""

from __future__ import annotations

import filecmp
import json
import shutil
import socket
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from hmm_live import CheckpointError, DownloadError, MusicVAE, UnsupportedModelError
from hmm_live.cli import main
from hmm_live.models.musicvae import catalog, checkpoints
from hmm_live.models.musicvae.configs import get_config
from hmm_live.models.musicvae.network import NetworkSpec
from hmm_live.music import ChordEncoder, converter_from_spec
from tests.support import MULTICONTROL, Bucket, randomize

SUPPORTED = list(catalog.PUBLISHED.values())
SMALL = catalog.PUBLISHED["mel_2bar_small"]


def tiny_model(published: catalog.Published, seed: int) -> MusicVAE:
    """A random-weight network of the published one's kind: its converter, tiny layers; past 2 bars
    hierarchical, as magenta-js reads a config.json with numSegments (a 2-level encoder, a conductor),
    but GrooVAEs, which are flat at any length, and multitrack ones, hierarchical over their 8 tracks
    (their converter and chord encoder as Magenta's hier-multiperf_vel_1bar configs); the melody-control
    ones as hmm_live assumes their configs (docs/musicvae.md): a boolean decoder for the rhythm, chords
    and extra controls for the multicontrol melody."""
    groove, multitrack = published.family == "GrooVAE", published.family.startswith("multitrack")
    hierarchical = (published.bars > 2 and not groove) or multitrack
    melody = {"minPitch": 21, "maxPitch": 108}
    kind, args = {
        "drums": ("DrumRollConverter" if "nade" in published.name else "DrumsConverter", {}),
        "trio": ("TrioConverter", {"melArgs": melody, "bassArgs": melody, "drumsArgs": {}}),
        "GrooVAE": (
            "GrooveConverter",
            {"humanize": "humanize" in published.name, "tapify": "tap2drum" in published.name},
        ),
        "melody rhythm": ("MelodyRhythmConverter", melody),
        "melody shape": ("MelodyShapeConverter", melody),
    }.get(published.family, ("MelodyConverter", melody))
    args |= {"numSteps": 16 * published.bars, **({"numSegments": published.bars} if hierarchical else {})}
    if multitrack:
        args = get_config("hier-multiperf_vel_1bar_med").data_converter["args"]
        kind = "MultitrackConverter"
    converter = converter_from_spec({"type": kind, "args": args})
    chords = None
    if "chords" in published.family or "controls" in published.family:
        chords = ChordEncoder("TriadChordEncoder" if multitrack else "PitchChordEncoder")
    extra = MULTICONTROL if "controls" in published.family else ()
    boolean = published.family == "melody rhythm"
    spec = NetworkSpec(
        input_depth=converter.input_depth,
        output_depth=converter.output_depth,
        z_size=8,
        encoder_sizes=(16, 16) if hierarchical else (16,),
        decoder_sizes=(16,),
        num_steps=converter.num_steps,
        control_depth=(chords.depth if chords else 0) + sum(depth for _, depth in extra),
        num_segments=converter.num_segments or 0,
        hierarchical_encoder=hierarchical,
        conductor_sizes=(16,) if hierarchical else (),
        split_depths=converter.split_depths,
        nade_hidden=16 if converter.multi_label and not boolean else 0,
        boolean_output=boolean,
    )
    return randomize(MusicVAE(spec, converter, chords, extra_controls=extra), seed)


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    """Every supported published name as a random-weight magenta-js folder, in small shards so a
    download crosses several; "q1"/"q2" names quantised as theirs are. Returns (root, specs)."""
    root = tmp_path_factory.mktemp("bucket")
    specs = {}
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(checkpoints, "SHARD_BYTES", 4096)
        for i, published in enumerate(SUPPORTED):
            model = tiny_model(published, seed=i)
            quantization = {"q1": "uint8", "q2": "uint16"}.get(published.name.rsplit("_", 1)[-1])
            model.export(root / published.path, quantization=quantization)
            specs[published.name] = model.spec
    rhythm = root / "other" / "trio_rhythm"  # what the loader refuses, by URL
    rhythm.mkdir(parents=True)
    spec = {"type": "MusicVAE", "dataConverter": {"type": "TrioRhythmConverter"}}
    (rhythm / "config.json").write_text(json.dumps(spec))
    (rhythm / "weights_manifest.json").write_text("[]")
    return root, specs


@pytest.fixture(scope="module")
def server(tree):
    with Bucket(tree[0]) as bucket:
        yield bucket


@pytest.fixture
def bucket(server, monkeypatch, tmp_path):
    """The loopback server, faults cleared, as HMM_LIVE_CHECKPOINT_URL; a fresh HMM_LIVE_CACHE."""
    server.ranges, server.budget, server.drops, server.requests, server.served = True, None, {}, [], 0
    monkeypatch.setenv("HMM_LIVE_CHECKPOINT_URL", server.url)
    monkeypatch.setenv("HMM_LIVE_CACHE", str(tmp_path / "cache"))
    return server


def same_files(a: Path, b: Path) -> bool:
    names = sorted(p.name for p in a.iterdir())
    _, mismatch, errors = filecmp.cmpfiles(a, b, names, shallow=False)
    return sorted(p.name for p in b.iterdir()) == names and not mismatch and not errors


def source(tree, published: catalog.Published = SMALL) -> Path:
    return tree[0] / published.path


@pytest.mark.parametrize("published", SUPPORTED, ids=lambda p: p.name)
def test_every_supported_name_loads_from_the_bucket(bucket, tree, published):
    model = MusicVAE.load(published.name, progress=False)
    assert model.spec == tree[1][published.name]


def test_the_cache_is_under_hmm_live_cache(bucket, tmp_path):
    catalog.fetch("mel_2bar_small", progress=False)
    assert catalog.cached("mel_2bar_small")
    assert catalog.folder("mel_2bar_small") == tmp_path / "cache" / "musicvae" / "mel_2bar_small"


def test_a_cached_name_downloads_nothing(bucket):
    catalog.fetch("mel_2bar_small", progress=False)
    bucket.requests.clear()
    MusicVAE.load("mel_2bar_small", progress=False)
    assert bucket.requests == []


def test_a_url_loads_into_its_own_cache_folder(bucket, tree):
    url = f"{bucket.url}/{SMALL.path}"
    assert MusicVAE.load(url, progress=False).spec == tree[1][SMALL.name]
    assert same_files(source(tree), catalog.folder(url))


def test_the_loader_refuses_an_unsupported_url_after_its_config(bucket):
    with pytest.raises(UnsupportedModelError, match="TrioRhythmConverter"):
        MusicVAE.load(f"{bucket.url}/other/trio_rhythm", progress=False)
    assert [path for path, _ in bucket.requests] == ["/other/trio_rhythm/config.json"]


CUTS = [
    "before any byte",
    "in config.json",
    "at config.json's last byte",
    "between config.json and the manifest",
    "in the manifest",
    "between the manifest and the shards",
    "at a shard's second byte",
    "at a shard boundary",
    "one byte past a shard boundary",
    "mid-shard",
    "at the last byte",
]


def cut_at(folder: Path, where: str) -> int:
    """The byte offset, in the whole download (config.json, the manifest, the shards in order), of `where`."""
    config = (folder / "config.json").stat().st_size
    shards = config + (folder / "weights_manifest.json").stat().st_size
    total = sum(p.stat().st_size for p in folder.iterdir())
    offsets = [0, 1, config - 1, config, (config + shards) // 2, shards, shards + 1, shards + 4096, shards + 4097]
    return dict(zip(CUTS, [*offsets, (shards + total) // 2, total - 1]))[where]


@pytest.mark.parametrize("where", CUTS)
def test_a_download_cut_at_any_byte_resumes_to_a_verified_folder(bucket, tree, where):
    folder = source(tree)
    bucket.budget = cut_at(folder, where)  # every connection is cut once this many bytes have gone out
    with pytest.raises(CheckpointError, match="dropped"):
        catalog.fetch("mel_2bar_small", progress=False)
    assert not catalog.cached("mel_2bar_small")
    bucket.budget = None
    catalog.fetch("mel_2bar_small", progress=False)
    assert same_files(folder, catalog.folder("mel_2bar_small"))
    assert bucket.served == sum(p.stat().st_size for p in folder.iterdir()), "a byte was fetched twice"


def test_two_downloads_of_one_name_at_once_fetch_it_once(bucket, tree):
    with ThreadPoolExecutor(2) as pool:
        folders = list(pool.map(lambda _: catalog.fetch("mel_2bar_small", progress=False), range(2)))
    assert folders == [catalog.folder("mel_2bar_small")] * 2
    assert bucket.served == sum(p.stat().st_size for p in source(tree).iterdir())


def test_a_dropped_connection_mid_shard_resumes_in_the_same_run(bucket, tree):
    shard = f"/{SMALL.path}/group1-shard2of{len(list(source(tree).glob('group1-*')))}"
    bucket.drops[shard] = [1000]
    catalog.fetch("mel_2bar_small", progress=False)
    assert (shard, "bytes=1000-") in bucket.requests


def test_a_server_without_ranges_sends_the_cut_file_again(bucket, tree):
    shard = f"/{SMALL.path}/group1-shard2of{len(list(source(tree).glob('group1-*')))}"
    bucket.ranges = False
    bucket.drops[shard] = [1000]
    catalog.fetch("mel_2bar_small", progress=False)
    assert same_files(source(tree), catalog.folder("mel_2bar_small"))


def test_a_part_complete_before_a_kill_is_kept(bucket, tree):
    """Killed between a file's last byte and its rename: the server answers 416, the .part stands."""
    staging = catalog.cache() / ".mel_2bar_small.download"
    staging.mkdir(parents=True)
    shutil.copy(source(tree) / "config.json", staging / "config.json.part")
    catalog.fetch("mel_2bar_small", progress=False)
    assert same_files(source(tree), catalog.folder("mel_2bar_small"))


@pytest.mark.parametrize(("kind", "change"), [("longer", b"extra"), ("shorter", b"")])
def test_a_shard_of_the_wrong_size_is_refused_and_nothing_installed(bucket, tree, monkeypatch, kind, change):
    bad = tree[0] / "bad" / kind / SMALL.path
    if not bad.exists():
        shutil.copytree(source(tree), bad)
        last = bad / json.loads((bad / "weights_manifest.json").read_text())[0]["paths"][-1]
        data = last.read_bytes()
        last.write_bytes(data + change if change else data[:-7])
    monkeypatch.setenv("HMM_LIVE_CHECKPOINT_URL", f"{bucket.url}/bad/{kind}")
    with pytest.raises(CheckpointError, match="group1-shard"):
        catalog.fetch("mel_2bar_small", progress=False)
    assert not catalog.folder("mel_2bar_small").exists()


def test_a_missing_file_names_its_url(bucket, monkeypatch):
    monkeypatch.setenv("HMM_LIVE_CHECKPOINT_URL", f"{bucket.url}/elsewhere")
    with pytest.raises(CheckpointError, match=f"{bucket.url}/elsewhere/music_vae/mel_2bar_small/config.json: HTTP 404"):
        catalog.fetch("mel_2bar_small", progress=False)


def test_offline_says_which_files_to_fetch_and_where(bucket, monkeypatch):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed when the block ends: nothing listens there
    monkeypatch.setenv("HMM_LIVE_CHECKPOINT_URL", f"http://127.0.0.1:{port}")
    with pytest.raises(DownloadError) as raised:
        MusicVAE.load("mel_2bar_small", progress=False)
    assert f"http://127.0.0.1:{port}/music_vae/mel_2bar_small/config.json" in str(raised.value)
    assert f"put them in the folder {catalog.folder('mel_2bar_small')}" in str(raised.value)


def test_the_progress_line_counts_to_the_total_and_can_be_silenced(bucket, capsys):
    catalog.fetch("mel_2bar_small")
    assert capsys.readouterr().err.endswith(" MB (100%)\n")
    catalog.fetch(f"{bucket.url}/{SMALL.path}", progress=False)
    assert capsys.readouterr().err == ""


def test_hmm_live_models_lists_every_name_with_size_and_cache_state(bucket, capsys):
    catalog.fetch("mel_2bar_small", progress=False)
    assert main(["models"]) == 0
    rows = {line.split()[0]: line for line in capsys.readouterr().out.splitlines()[1:-1]}
    assert set(rows) == set(catalog.PUBLISHED)
    assert "17.7 MB  yes" in rows["mel_2bar_small"]
    assert "1710.0 MB  -" in rows["trio_16bar_xl"]
    assert "tiny; 8 free bits" in rows["mel_shape_2bar_tiny_fb8"]
    assert "medium, 64 free bits" in rows["multitrack_med"]


def test_hmm_live_fetch_prints_the_folder(bucket, capsys):
    assert main(["fetch", "mel_4bar_small_q2", "--quiet"]) == 0
    assert capsys.readouterr().out == f"{catalog.folder('mel_4bar_small_q2')}\n"
