//! `hub::resolve` against a local stand-in for the hub (tests/fake_hub, 127.0.0.1 only) serving the
//! tiny Qwen3 fixtures. Downloads are checked against the published sha256 of those files
//! (tests/fixtures SHA256SUMS, docs models.md, scripts/fetch-models.sh), and the downloaded model
//! directory against the safetensors header parsed here by hand.

mod fake_hub;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use fake_hub::{sha256_hex, FakeHub};
use formats::WeightSource;
use hub::{Error, ModelRef, Origin, ResolveOptions};

// Published sha256 of the served files.
const SHA_CONFIG: &str = "e80df7081a1e301e84a5caaeb09dad8e161b9c3cecfca73d7575af0d5ac422d1";
const SHA_GENERATION_CONFIG: &str =
    "81e8e13e77962857509cc06a9960bb68f8b7893096a60357627b2dfaa72d78fe";
const SHA_SAFETENSORS: &str = "059e0342599d9203da3e35df5fd33743390341d448a19ed3ab76edd657c3a9e0";
const SHA_TOKENIZER_CONFIG: &str =
    "5a7303fcb1a27ede63134a2cbd61d5282c247ca6d769ce4746d4ffa124aedd63";
const SHA_TOKENIZER: &str = "aeb13307a71acd8fe81861d94ad54ab689df773318809eed3cbe794b4492dae4";
const SHA_Q8_GGUF: &str = "8b245ae6338a1b35be6c1430fccbf66f5183007f9dbab9486bd93a9de4f43930";

const GGUF: &str = "qwen3-tiny-q8_0.gguf";

fn fixtures_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures")
}

fn models_dir() -> PathBuf {
    std::env::var_os("INFERNO_MODELS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../models"))
}

fn read_fixture(rel: &str) -> Vec<u8> {
    let p = fixtures_dir().join(rel);
    std::fs::read(&p).unwrap_or_else(|e| panic!("fixture {}: {e}", p.display()))
}

fn read_model(rel: &str) -> Vec<u8> {
    let p = models_dir().join(rel);
    std::fs::read(&p).unwrap_or_else(|e| {
        panic!(
            "model file {} is missing ({e}); run scripts/fetch-models.sh qwen3-tokenizer qwen3-tiny-gguf",
            p.display()
        )
    })
}

/// A fresh, empty folder for one test's cache.
fn temp_dir(name: &str) -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "inferno-hub-test-{}-{name}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn opts(hub: &FakeHub, cache: &Path) -> ResolveOptions {
    let mut o = ResolveOptions::new(hub.endpoint(), cache);
    o.progress = false;
    o.retries = 0;
    o.retry_backoff = Duration::from_millis(10);
    o.connect_timeout = Duration::from_secs(10);
    o.read_timeout = Duration::from_secs(10);
    o
}

/// The tiny Qwen3 model directory as a hub repository (plus files a model download must skip).
fn serve_qwen3_tiny(hub: &FakeHub, repo: &str) {
    hub.add_repo(
        repo,
        vec![
            (
                ".gitattributes",
                b"*.safetensors filter=lfs\n".to_vec(),
                false,
            ),
            ("README.md", b"# tiny\n".to_vec(), false),
            ("config.json", read_fixture("qwen3-tiny/config.json"), false),
            (
                "generation_config.json",
                read_fixture("qwen3-tiny/generation_config.json"),
                false,
            ),
            (
                "tokenizer_config.json",
                read_fixture("qwen3-tiny/tokenizer_config.json"),
                false,
            ),
            (
                "tokenizer.json",
                read_model("qwen3-tokenizer/tokenizer.json"),
                true,
            ),
            (
                "model.safetensors",
                read_fixture("qwen3-tiny/model.safetensors"),
                true,
            ),
            ("onnx/model.safetensors", b"not for us".to_vec(), true),
        ],
    );
}

fn serve_gguf(hub: &FakeHub, repo: &str) -> Vec<u8> {
    let bytes = read_model(&format!("qwen3-tiny-gguf/{GGUF}"));
    hub.add_repo(
        repo,
        vec![
            ("README.md", b"# gguf\n".to_vec(), false),
            (GGUF, bytes.clone(), true),
        ],
    );
    bytes
}

fn file_sha(path: &Path) -> String {
    sha256_hex(&std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())))
}

/// Tensor names from a safetensors header, parsed here: u64 LE header length, then a JSON object
/// whose keys are the tensor names (plus `__metadata__`).
fn safetensors_names(bytes: &[u8]) -> Vec<String> {
    let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let header: serde_json::Value = serde_json::from_slice(&bytes[8..8 + n]).unwrap();
    let mut names: Vec<String> = header
        .as_object()
        .unwrap()
        .keys()
        .filter(|k| *k != "__metadata__")
        .cloned()
        .collect();
    names.sort();
    names
}

fn leftovers(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if name.ends_with(".part") || name.ends_with(".tmp") {
            out.push(name);
        }
    }
    out
}

#[test]
fn whole_repo_downloads_the_model_files_and_loads_as_a_model_dir() {
    let hub = FakeHub::start();
    serve_qwen3_tiny(&hub, "Qwen/Qwen3-Tiny");
    let cache = temp_dir("repo");

    let m = hub::resolve("Qwen/Qwen3-Tiny", &opts(&hub, &cache)).unwrap();
    let dir = cache.join("hub/Qwen--Qwen3-Tiny/main");
    assert_eq!(m.path, dir);
    assert_eq!(m.origin, Origin::Download);

    // Exactly the model files, each hashing to its published sha256, each with its record.
    let expected = [
        ("config.json", SHA_CONFIG),
        ("generation_config.json", SHA_GENERATION_CONFIG),
        ("tokenizer.json", SHA_TOKENIZER),
        ("tokenizer_config.json", SHA_TOKENIZER_CONFIG),
        ("model.safetensors", SHA_SAFETENSORS),
    ];
    let mut got: Vec<PathBuf> = m.files.clone();
    got.sort();
    let mut want: Vec<PathBuf> = expected.iter().map(|(f, _)| dir.join(f)).collect();
    want.sort();
    assert_eq!(got, want);
    let mut total = 0;
    for (f, sha) in expected {
        let p = dir.join(f);
        assert_eq!(file_sha(&p), sha, "{f}");
        let record = std::fs::read_to_string(dir.join(format!("{f}.sha256"))).unwrap();
        assert_eq!(record, format!("{sha}  {f}\n"));
        total += std::fs::metadata(&p).unwrap().len();
    }
    assert_eq!(m.bytes_downloaded, total);
    assert!(!dir.join("README.md").exists() && !dir.join("onnx").exists());
    assert!(leftovers(&dir).is_empty(), "{:?}", leftovers(&dir));
    assert!(hub
        .log()
        .iter()
        .all(|l| !l.path.contains("README") && !l.path.contains("onnx")));
    // The LFS files were checked against X-Linked-Etag: a HEAD per file preceded its GET.
    let heads = hub.log().iter().filter(|l| l.method == "HEAD").count();
    assert_eq!(heads, expected.len());

    // The directory opens as a Hugging Face model, with the fixture's tensors and tokenizer.
    let model = formats::HfModelDir::open(&m.path).unwrap();
    let mut names = model.tensor_names();
    names.sort();
    assert_eq!(
        names,
        safetensors_names(&read_fixture("qwen3-tiny/model.safetensors"))
    );
    assert!(names.contains(&"model.embed_tokens.weight".to_string()));
    assert_eq!(
        model.tokenizer_json_path(),
        Some(dir.join("tokenizer.json").as_path())
    );
    assert!(model.generation_config_path().is_some());

    // A second resolve finds everything verified in the cache and asks the hub nothing.
    let before = hub.request_count();
    let again = hub::resolve("Qwen/Qwen3-Tiny", &opts(&hub, &cache)).unwrap();
    assert_eq!(hub.request_count(), before);
    assert_eq!(again.origin, Origin::Cache);
    assert_eq!(again.path, dir);
    assert_eq!(again.bytes_downloaded, 0);
    let _ = std::fs::remove_dir_all(&cache);
}

#[test]
fn single_gguf_file_downloads_with_head_then_get() {
    let hub = FakeHub::start();
    serve_gguf(&hub, "someone/qwen3-tiny-GGUF");
    let cache = temp_dir("gguf");

    let arg = format!("someone/qwen3-tiny-GGUF:{GGUF}");
    let m = hub::resolve(&arg, &opts(&hub, &cache)).unwrap();
    assert_eq!(
        m.path,
        cache.join("hub/someone--qwen3-tiny-GGUF/main").join(GGUF)
    );
    assert_eq!(file_sha(&m.path), SHA_Q8_GGUF);
    let gguf = formats::GgufFile::open(&m.path).unwrap();
    assert!(!gguf.tensors.is_empty());
    assert_eq!(gguf.get_str("general.architecture"), Some("qwen3"));

    // No listing for one file: HEAD (the sha), GET (302 to the CDN path), GET of the bytes.
    let log = hub.log();
    let methods: Vec<&str> = log.iter().map(|l| l.method.as_str()).collect();
    assert_eq!(methods, ["HEAD", "GET", "GET"]);
    assert!(log[2].path.starts_with("/lfs/"));

    let before = hub.request_count();
    let again = hub::resolve(&arg, &opts(&hub, &cache)).unwrap();
    assert_eq!((again.origin, hub.request_count()), (Origin::Cache, before));
    let _ = std::fs::remove_dir_all(&cache);
}

#[test]
fn a_cut_download_resumes_with_a_range_request_in_the_same_call() {
    let hub = FakeHub::start();
    let bytes = serve_gguf(&hub, "o/r");
    let cut = 1_000_003;
    hub.state().cut_after = Some(cut);
    let cache = temp_dir("resume1");
    let mut o = opts(&hub, &cache);
    o.retries = 2;

    let m = hub::resolve(&format!("o/r:{GGUF}"), &o).unwrap();
    assert_eq!(file_sha(&m.path), SHA_Q8_GGUF);
    let gets = hub.body_gets();
    assert_eq!(gets.len(), 2, "{gets:?}");
    assert_eq!(gets[0].range, None);
    assert_eq!(
        gets[1].range.as_deref(),
        Some(format!("bytes={cut}-").as_str())
    );
    // The bytes already there were not fetched again.
    assert_eq!(m.bytes_downloaded, bytes.len() as u64);
    let _ = std::fs::remove_dir_all(&cache);
}

#[test]
fn a_cut_download_keeps_its_partial_and_the_next_call_resumes_it() {
    let hub = FakeHub::start();
    let bytes = serve_gguf(&hub, "o/r");
    let cut = 4_194_304 + 17;
    hub.state().cut_after = Some(cut);
    let cache = temp_dir("resume2");
    let arg = format!("o/r:{GGUF}");
    let dest = cache.join("hub/o--r/main").join(GGUF);
    let part = cache.join("hub/o--r/main").join(format!("{GGUF}.part"));

    let err = hub::resolve(&arg, &opts(&hub, &cache)).unwrap_err();
    assert!(
        matches!(err, Error::Interrupted { bytes, .. } if bytes == cut as u64),
        "{err}"
    );
    assert!(!dest.exists());
    assert_eq!(std::fs::metadata(&part).unwrap().len(), cut as u64);

    let m = hub::resolve(&arg, &opts(&hub, &cache)).unwrap();
    assert_eq!(file_sha(&m.path), SHA_Q8_GGUF);
    assert!(!part.exists());
    assert_eq!(m.bytes_downloaded, (bytes.len() - cut) as u64);
    let gets = hub.body_gets();
    assert_eq!(gets.len(), 2);
    assert_eq!(
        gets[1].range.as_deref(),
        Some(format!("bytes={cut}-").as_str())
    );
    let _ = std::fs::remove_dir_all(&cache);
}

#[test]
fn a_server_that_ignores_range_gets_the_file_from_the_start() {
    let hub = FakeHub::start();
    let bytes = serve_gguf(&hub, "o/r");
    let cut = 300_000;
    hub.state().cut_after = Some(cut);
    let cache = temp_dir("norange");
    let arg = format!("o/r:{GGUF}");
    assert!(hub::resolve(&arg, &opts(&hub, &cache)).is_err());

    hub.state().ignore_range = true;
    let m = hub::resolve(&arg, &opts(&hub, &cache)).unwrap();
    // Asked for a range, got 200 with everything: the partial was restarted, not appended to.
    assert_eq!(
        hub.body_gets()[1].range.as_deref(),
        Some(format!("bytes={cut}-").as_str())
    );
    assert_eq!(
        std::fs::metadata(&m.path).unwrap().len(),
        bytes.len() as u64
    );
    assert_eq!(file_sha(&m.path), SHA_Q8_GGUF);
    let _ = std::fs::remove_dir_all(&cache);
}

#[test]
fn a_sha256_mismatch_is_an_error_and_leaves_no_file() {
    let hub = FakeHub::start();
    serve_gguf(&hub, "o/r");
    hub.state().wrong_sha = true;
    let cache = temp_dir("badsha");
    let arg = format!("o/r:{GGUF}");

    let err = hub::resolve(&arg, &opts(&hub, &cache)).unwrap_err();
    match &err {
        Error::ShaMismatch {
            file,
            expected,
            actual,
        } => {
            assert_eq!(file, GGUF);
            assert_eq!(expected, &sha256_hex(b"not the file"));
            assert_eq!(actual, SHA_Q8_GGUF);
        }
        other => panic!("expected a sha mismatch, got {other}"),
    }
    let dir = cache.join("hub/o--r/main");
    // Only the (empty) lock file of the attempt remains: no file, no partial, no sha record.
    let left: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(left, [format!("{GGUF}.lock")]);

    // And nothing half-verified is taken from the cache afterwards.
    let mut off = opts(&hub, &cache);
    off.offline = true;
    assert!(matches!(
        hub::resolve(&arg, &off),
        Err(Error::OfflineMiss { .. })
    ));
    let _ = std::fs::remove_dir_all(&cache);
}

#[test]
fn offline_uses_the_cache_without_any_request_and_a_miss_is_a_clear_error() {
    let hub = FakeHub::start();
    serve_gguf(&hub, "o/r");
    let cache = temp_dir("offline");
    let arg = format!("o/r:{GGUF}");
    let mut off = opts(&hub, &cache);
    off.offline = true;

    let err = hub::resolve(&arg, &off).unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, Error::OfflineMiss { .. }), "{msg}");
    assert!(
        msg.contains(GGUF) && msg.contains("o/r@main") && msg.contains("offline"),
        "{msg}"
    );
    let err = hub::resolve("o/r", &off).unwrap_err();
    assert!(err.to_string().contains("repository o/r@main"), "{err}");
    assert_eq!(hub.request_count(), 0);

    hub::resolve(&arg, &opts(&hub, &cache)).unwrap();
    let before = hub.request_count();
    let m = hub::resolve(&arg, &off).unwrap();
    assert_eq!((m.origin, hub.request_count()), (Origin::Cache, before));
    let mut verify = off.clone();
    verify.verify_cached = true;
    assert_eq!(hub::resolve(&arg, &verify).unwrap().path, m.path);
    let _ = std::fs::remove_dir_all(&cache);
}

#[test]
fn unknown_repo_file_and_revision_are_404_errors_naming_them() {
    let hub = FakeHub::start();
    serve_gguf(&hub, "o/r");
    let cache = temp_dir("404");
    let o = opts(&hub, &cache);

    let err = hub::resolve("nobody/nothing", &o).unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, Error::NotFound { .. }), "{msg}");
    assert!(
        msg.contains("nobody/nothing") && msg.contains("RepoNotFound"),
        "{msg}"
    );
    assert!(msg.contains("no local path 'nobody/nothing'"), "{msg}");

    let err = hub::resolve("o/r:missing.gguf", &o).unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("missing.gguf") && msg.contains("EntryNotFound"),
        "{msg}"
    );
    assert!(
        msg.contains(GGUF),
        "the error lists the repo's GGUF files: {msg}"
    );

    let err = hub::resolve(&format!("o/r@v9:{GGUF}"), &o).unwrap_err();
    assert!(err.to_string().contains("RevisionNotFound"), "{err}");

    // A GGUF-only repository named as a whole says how to name one of its files.
    let err = hub::resolve("o/r", &o).unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, Error::NotAModelRepo { .. }), "{msg}");
    assert!(msg.contains(&format!("o/r:{GGUF}")), "{msg}");
    let _ = std::fs::remove_dir_all(&cache);
}

#[test]
fn a_token_is_sent_as_bearer_and_a_refusal_names_hf_token() {
    let hub = FakeHub::start();
    serve_gguf(&hub, "o/private");
    hub.state().require_token = Some("hf_secret".into());
    let cache = temp_dir("token");
    let arg = format!("o/private:{GGUF}");

    let err = hub::resolve(&arg, &opts(&hub, &cache)).unwrap_err();
    let msg = err.to_string();
    assert!(
        matches!(err, Error::AccessDenied { status: 401, .. }),
        "{msg}"
    );
    assert!(
        msg.contains("o/private") && msg.contains("HF_TOKEN"),
        "{msg}"
    );

    let mut o = opts(&hub, &cache);
    o.token = Some("hf_secret".into());
    let m = hub::resolve(&arg, &o).unwrap();
    assert_eq!(file_sha(&m.path), SHA_Q8_GGUF);
    assert!(hub
        .log()
        .iter()
        .skip(1)
        .all(|l| l.authorization.as_deref() == Some("Bearer hf_secret")));
    let _ = std::fs::remove_dir_all(&cache);
}

#[test]
fn a_revision_with_a_slash_is_encoded_in_urls_and_cached_in_one_folder() {
    let hub = FakeHub::start();
    serve_gguf(&hub, "o/r");
    hub.state()
        .repos
        .get_mut("o/r")
        .unwrap()
        .revisions
        .push("refs/pr/1".into());
    let cache = temp_dir("rev");
    let m = hub::resolve(&format!("o/r@refs/pr/1:{GGUF}"), &opts(&hub, &cache)).unwrap();
    assert_eq!(m.path, cache.join("hub/o--r/refs%2Fpr%2F1").join(GGUF));
    assert!(
        hub.log()[0].path.contains("/resolve/refs%2Fpr%2F1/"),
        "{:?}",
        hub.log()
    );
    let _ = std::fs::remove_dir_all(&cache);
}

#[test]
fn local_paths_pass_through_without_any_request() {
    let hub = FakeHub::start();
    let cache = temp_dir("local");
    let dir = fixtures_dir().join("qwen3-tiny");
    let arg = dir.to_str().unwrap();
    let m = hub::resolve(arg, &opts(&hub, &cache)).unwrap();
    assert_eq!((m.path.as_path(), m.origin), (dir.as_path(), Origin::Local));
    assert_eq!(hub.request_count(), 0);
    let _ = std::fs::remove_dir_all(&cache);
}

#[test]
fn malformed_ids_are_errors_naming_both_readings_and_make_no_request() {
    let hub = FakeHub::start();
    let cache = temp_dir("malformed");
    let o = opts(&hub, &cache);
    for arg in [
        "",
        "qwen3",
        "a/b/c",
        "a//b",
        "-a/b",
        "a/b-",
        "a/b..c",
        "a/b c",
        "a/b:",
        "a/b:x.safetensors",
        "a/b:../x.gguf",
        "a/b:d//x.gguf",
        "a/b@",
        "a/b@v1:x.gguf@v2",
        "a/b@..",
        "a/b@x y",
    ] {
        let err = hub::resolve(arg, &o).unwrap_err();
        let msg = err.to_string();
        assert!(
            matches!(err, Error::InvalidModelRef { .. }),
            "{arg:?}: {msg}"
        );
        assert!(
            msg.contains("neither an existing local path nor a valid hub id"),
            "{arg:?}: {msg}"
        );
    }
    // Path-looking arguments that do not exist are missing paths, never hub ids.
    for arg in [
        "./missing",
        "/nonexistent/model.gguf",
        "~/m.gguf",
        "models/foo.gguf",
        "some/model.safetensors",
    ] {
        let err = hub::resolve(arg, &o).unwrap_err();
        assert!(
            matches!(err, Error::LocalPathMissing { .. }),
            "{arg:?}: {err}"
        );
        assert!(err.to_string().contains("does not exist"), "{err}");
    }
    assert_eq!(hub.request_count(), 0);
}

#[test]
fn well_formed_ids_parse() {
    let none = |_: &Path| false;
    let hub_ref = |arg: &str| match ModelRef::parse_with(arg, none).unwrap() {
        ModelRef::Hub(h) => (h.repo.to_string(), h.file, h.revision),
        ModelRef::Local(p) => panic!("{arg} parsed as local {}", p.display()),
    };
    assert_eq!(
        hub_ref("Qwen/Qwen3-0.6B"),
        ("Qwen/Qwen3-0.6B".into(), None, "main".into())
    );
    assert_eq!(
        hub_ref("owner/repo:file.gguf"),
        ("owner/repo".into(), Some("file.gguf".into()), "main".into())
    );
    assert_eq!(
        hub_ref("owner/repo:sub/F.GGUF@v1.0"),
        (
            "owner/repo".into(),
            Some("sub/F.GGUF".into()),
            "v1.0".into()
        )
    );
    assert_eq!(
        hub_ref("owner/repo@refs/pr/1:f.gguf"),
        (
            "owner/repo".into(),
            Some("f.gguf".into()),
            "refs/pr/1".into()
        )
    );
    assert_eq!(
        hub_ref("unsloth/Qwen3-0.6B-GGUF@abc123"),
        ("unsloth/Qwen3-0.6B-GGUF".into(), None, "abc123".into())
    );
    // An existing path wins over the id reading.
    assert_eq!(
        ModelRef::parse_with("Qwen/Qwen3-0.6B", |_| true).unwrap(),
        ModelRef::Local(PathBuf::from("Qwen/Qwen3-0.6B"))
    );
}

#[test]
fn options_from_the_environment() {
    let env = |vars: &'static [(&'static str, &'static str)]| {
        move |k: &str| {
            vars.iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        }
    };
    let o = ResolveOptions::from_lookup(env(&[("HOME", "/home/u")])).unwrap();
    assert_eq!(o.endpoint, "https://huggingface.co");
    assert_eq!(o.cache_dir, PathBuf::from("/home/u/.cache/inferno"));
    assert!(!o.offline && o.token.is_none());

    let o = ResolveOptions::from_lookup(env(&[
        ("HOME", "/home/u"),
        ("XDG_CACHE_HOME", "/xdg"),
        ("HF_ENDPOINT", "https://mirror.example/"),
        ("HF_TOKEN", "hf_x"),
        ("HF_HUB_OFFLINE", "1"),
        ("INFERNO_HF_TIMEOUT", "7"),
    ]))
    .unwrap();
    assert_eq!(o.endpoint, "https://mirror.example");
    assert_eq!(o.cache_dir, PathBuf::from("/xdg/inferno"));
    assert_eq!(o.token.as_deref(), Some("hf_x"));
    assert!(o.offline);
    assert_eq!(o.read_timeout, Duration::from_secs(7));

    let o = ResolveOptions::from_lookup(env(&[
        ("HOME", "/home/u"),
        ("INFERNO_CACHE_DIR", "/c"),
        ("HF_ENDPOINT", "https://ignored"),
        ("INFERNO_HF_ENDPOINT", "http://127.0.0.1:9"),
        ("INFERNO_OFFLINE", "true"),
    ]))
    .unwrap();
    assert_eq!(o.endpoint, "http://127.0.0.1:9");
    assert_eq!(o.cache_dir, PathBuf::from("/c"));
    assert!(o.offline);

    for bad in [
        &[("HOME", "/h"), ("INFERNO_OFFLINE", "maybe")][..],
        &[("HOME", "/h"), ("INFERNO_HF_TIMEOUT", "soon")][..],
        &[("HOME", "/h"), ("INFERNO_HF_ENDPOINT", "ftp://x")][..],
        &[][..],
    ] {
        let vars: Vec<(String, String)> = bad
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let r = ResolveOptions::from_lookup(|k| {
            vars.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone())
        });
        assert!(matches!(r, Err(Error::InvalidSetting { .. })), "{bad:?}");
    }
}

/// Splits a safetensors file into two shards by tensor (each with its own header and data offsets
/// relative to its own data section) and writes the HF index that names them.
fn split_safetensors(bytes: &[u8]) -> (Vec<u8>, Vec<u8>, Vec<u8>) {
    let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let header: serde_json::Value = serde_json::from_slice(&bytes[8..8 + n]).unwrap();
    let data = &bytes[8 + n..];
    let names = safetensors_names(bytes);
    let mut shards = [
        (serde_json::Map::new(), Vec::new()),
        (serde_json::Map::new(), Vec::new()),
    ];
    let mut weight_map = serde_json::Map::new();
    for (i, name) in names.iter().enumerate() {
        let k = i % 2;
        let mut info = header[name].clone();
        let off = info["data_offsets"].as_array().unwrap();
        let (a, b) = (
            off[0].as_u64().unwrap() as usize,
            off[1].as_u64().unwrap() as usize,
        );
        let (map, buf) = &mut shards[k];
        let start = buf.len();
        buf.extend_from_slice(&data[a..b]);
        info["data_offsets"] = serde_json::json!([start, buf.len()]);
        map.insert(name.clone(), info);
        let file = format!("model-0000{}-of-00002.safetensors", k + 1);
        weight_map.insert(name.clone(), serde_json::Value::String(file));
    }
    let encode = |(map, buf): &(serde_json::Map<String, serde_json::Value>, Vec<u8>)| {
        let h = serde_json::to_vec(map).unwrap();
        let mut out = (h.len() as u64).to_le_bytes().to_vec();
        out.extend_from_slice(&h);
        out.extend_from_slice(buf);
        out
    };
    let index = serde_json::json!({ "metadata": {}, "weight_map": weight_map });
    (
        encode(&shards[0]),
        encode(&shards[1]),
        serde_json::to_vec(&index).unwrap(),
    )
}

#[test]
fn a_sharded_repo_fetches_the_index_then_the_shards_it_names() {
    let hub = FakeHub::start();
    let weights = read_fixture("qwen3-tiny/model.safetensors");
    let (s1, s2, index) = split_safetensors(&weights);
    hub.add_repo(
        "o/sharded",
        vec![
            ("config.json", read_fixture("qwen3-tiny/config.json"), false),
            ("model.safetensors.index.json", index, false),
            ("model-00001-of-00002.safetensors", s1, true),
            ("model-00002-of-00002.safetensors", s2, true),
            (
                "stale.safetensors",
                b"not named by the index".to_vec(),
                true,
            ),
        ],
    );
    let cache = temp_dir("sharded");
    let m = hub::resolve("o/sharded", &opts(&hub, &cache)).unwrap();
    let mut got: Vec<String> = m
        .files
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    got.sort();
    assert_eq!(
        got,
        [
            "config.json",
            "model-00001-of-00002.safetensors",
            "model-00002-of-00002.safetensors",
            "model.safetensors.index.json"
        ]
    );
    assert!(hub.log().iter().all(|l| !l.path.contains("stale")));
    let model = formats::HfModelDir::open(&m.path).unwrap();
    let mut names = model.tensor_names();
    names.sort();
    assert_eq!(names, safetensors_names(&weights));
    assert_eq!(model.files().len(), 2);
    let _ = std::fs::remove_dir_all(&cache);
}

#[test]
fn two_resolves_at_once_download_the_file_once() {
    let hub = FakeHub::start();
    serve_gguf(&hub, "o/r");
    let cache = temp_dir("concurrent");
    let arg = format!("o/r:{GGUF}");
    let o = opts(&hub, &cache);
    let paths: Vec<PathBuf> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..2)
            .map(|_| s.spawn(|| hub::resolve(&arg, &o).unwrap().path))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(paths[0], paths[1]);
    assert_eq!(file_sha(&paths[0]), SHA_Q8_GGUF);
    assert_eq!(hub.body_gets().len(), 1, "{:?}", hub.log());
    let _ = std::fs::remove_dir_all(&cache);
}
