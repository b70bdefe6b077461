//! Checkpoints: seeded initialisation, bit-for-bit round trips, lineage and optimiser state, and a
//! clear error naming the file for every kind of damage.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use agents::checkpoint::{
    Checkpoint, CheckpointError, INFO_FILE, MODEL_FILE, OPTIMIZER_FILE, OptimizerState, sha256_hex,
};
use agents::network::{Architecture, Scratch};
use candle_core::{Device, Tensor};
use games::load_game;
use serde_json::{Value, json};

fn tiny(game: &str, architecture: &str, seed: u64) -> Checkpoint {
    let game = load_game(game).expect("game");
    Checkpoint::init(&game, Architecture::parse(architecture).expect("architecture"), seed).expect("init")
}

/// A saved tic-tac-toe checkpoint in a fresh temporary directory.
fn saved() -> (tempfile::TempDir, PathBuf, Checkpoint) {
    let temp = tempfile::tempdir().expect("tempdir");
    let dir = temp.path().join("gen0");
    let mut checkpoint = tiny("tic_tac_toe", "mlp(hidden=16,layers=2)", 1);
    checkpoint.save(&dir).expect("save");
    (temp, dir, checkpoint)
}

fn outputs(checkpoint: &Checkpoint) -> Vec<u32> {
    let network = checkpoint.network();
    let observations: Vec<f32> = (0..3 * network.observation_size()).map(|i| ((i * 7) % 5) as f32 / 4.0).collect();
    let frozen = network.inference().expect("inference");
    let (mut logits, mut values) = (vec![0.0; 3 * frozen.actions()], vec![0.0; 3]);
    frozen.infer(&mut Scratch::default(), &observations, &mut logits, &mut values).expect("infer");
    logits.iter().chain(&values).map(|v| v.to_bits()).collect()
}

fn load_error(dir: &Path) -> String {
    match Checkpoint::load(dir) {
        Ok(_) => panic!("{} loaded despite the damage", dir.display()),
        Err(error) => error.to_string(),
    }
}

fn edit_info(dir: &Path, edit: impl FnOnce(&mut Value)) {
    let path = dir.join(INFO_FILE);
    let mut info: Value = serde_json::from_str(&fs::read_to_string(&path).expect("read")).expect("json");
    edit(&mut info);
    fs::write(&path, serde_json::to_string_pretty(&info).expect("json")).expect("write");
}

/// Rewrites `model.safetensors` with `tensors` and records its hash, so only the tensors are wrong.
fn write_model(dir: &Path, tensors: &BTreeMap<String, (Vec<usize>, Vec<f32>)>) {
    let bytes: Vec<(String, Vec<usize>, Vec<u8>)> = tensors
        .iter()
        .map(|(name, (shape, values))| {
            (name.clone(), shape.clone(), values.iter().flat_map(|v| v.to_le_bytes()).collect())
        })
        .collect();
    let views = bytes.iter().map(|(name, shape, data)| {
        (
            name.as_str(),
            safetensors::tensor::TensorView::new(safetensors::Dtype::F32, shape.clone(), data).expect("view"),
        )
    });
    let encoded = safetensors::serialize(views, None).expect("serialize");
    fs::write(dir.join(MODEL_FILE), &encoded).expect("write");
    let hash = sha256_hex(&encoded);
    edit_info(dir, |info| info["model_sha256"] = json!(hash));
}

fn model_tensors(checkpoint: &Checkpoint) -> BTreeMap<String, (Vec<usize>, Vec<f32>)> {
    checkpoint
        .vars()
        .iter()
        .map(|(name, var)| {
            let values = var.as_tensor().flatten_all().and_then(|t| t.to_vec1::<f32>()).expect("values");
            (name.clone(), (var.dims().to_vec(), values))
        })
        .collect()
}

#[test]
fn the_same_seed_gives_bit_identical_weights() {
    let a = tiny("connect_four", "resnet(channels=4,blocks=1)", 42);
    let b = tiny("connect_four", "resnet(channels=4,blocks=1)", 42);
    let c = tiny("connect_four", "resnet(channels=4,blocks=1)", 43);
    assert_eq!(a.model_bytes().expect("bytes"), b.model_bytes().expect("bytes"));
    assert_eq!(a.hash(), b.hash());
    assert_ne!(a.hash(), c.hash());
    assert_eq!(a.hash(), sha256_hex(&a.model_bytes().expect("bytes")));
    assert_eq!(a.info().generation, 0);
    assert_eq!(a.info().init_seed, Some(42));
    assert_eq!(a.info().game, "connect_four(rows=6,columns=7,connect=4)");
}

#[test]
fn a_checkpoint_round_trips_bit_for_bit() {
    for (game, architecture) in [
        ("tic_tac_toe", "mlp(hidden=16,layers=2)"),
        ("connect_four", "resnet(channels=4,blocks=2)"),
        ("othello", "resnet(channels=4,blocks=1,norm=true)"),
    ] {
        let temp = tempfile::tempdir().expect("tempdir");
        let mut original = tiny(game, architecture, 5);
        let hash = original.save(temp.path()).expect("save");
        assert_eq!(hash, original.hash());
        let file = fs::read(temp.path().join(MODEL_FILE)).expect("model");
        assert_eq!(sha256_hex(&file), hash);

        let loaded = Checkpoint::load(temp.path()).expect("load");
        assert_eq!(loaded.info(), original.info());
        assert_eq!(loaded.model_bytes().expect("bytes"), file);
        assert_eq!(loaded.parameter_count(), original.parameter_count());
        assert_eq!(outputs(&loaded), outputs(&original), "{architecture}: outputs changed through save and load");
        assert_eq!(loaded.network().architecture().to_string(), architecture);
    }
}

#[test]
fn save_never_overwrites_a_checkpoint() {
    let (_temp, dir, mut checkpoint) = saved();
    let error = checkpoint.save(&dir).expect_err("second save");
    assert!(matches!(error, CheckpointError::Exists(_)), "{error}");
    assert!(error.to_string().contains("gen0"), "{error}");
}

#[test]
fn a_child_records_its_lineage_training_and_optimizer_state() {
    let (temp, parent_dir, parent) = saved();
    let mut child = parent.child().expect("child");
    assert_eq!(child.info().generation, 1);
    assert_eq!(child.info().parents, vec![parent.hash().to_string()]);

    // Training changes the child's weights through its variables, not the parent's.
    let (name, var) = &child.vars()[0];
    var.set(&var.as_tensor().affine(1.0, 0.5).expect("shift")).expect("set");
    assert_ne!(outputs(&child), outputs(&parent), "changing {name} changed nothing");
    assert_eq!(outputs(&parent), outputs(&Checkpoint::load(&parent_dir).expect("parent")));

    child.set_training(json!({"games": 100, "steps": 10, "loss": 1.5}));
    let moments = Tensor::new(&[0.25f32, -1.0, 3.0], &Device::Cpu).expect("tensor");
    child.set_optimizer(Some(OptimizerState { tensors: BTreeMap::from([("trunk.0.weight.m".to_string(), moments)]) }));
    let child_dir = temp.path().join("gen1");
    let hash = child.save(&child_dir).expect("save child");
    assert_ne!(hash, parent.hash());

    let loaded = Checkpoint::load(&child_dir).expect("load child");
    assert_eq!(loaded.info().generation, 1);
    assert_eq!(loaded.info().parents, vec![parent.hash().to_string()]);
    assert_eq!(loaded.info().training.as_ref().and_then(|t| t.get("games")), Some(&json!(100)));
    let state = loaded.optimizer().expect("optimizer state");
    let restored = state.tensors["trunk.0.weight.m"].to_vec1::<f32>().expect("values");
    assert_eq!(restored, vec![0.25, -1.0, 3.0]);
    assert_eq!(outputs(&loaded), outputs(&child));
    // A grandchild carries the optimiser state on.
    assert!(loaded.child().expect("grandchild").optimizer().is_some());

    // The optimiser file is verified too.
    let path = child_dir.join(OPTIMIZER_FILE);
    let mut bytes = fs::read(&path).expect("read");
    let last = bytes.len() - 1;
    bytes[last] ^= 0x40;
    fs::write(&path, bytes).expect("write");
    let error = load_error(&child_dir);
    assert!(error.contains(OPTIMIZER_FILE) && error.contains("hash"), "{error}");
}

#[test]
fn the_var_map_shares_storage_with_the_network() {
    let checkpoint = tiny("tic_tac_toe", "mlp(hidden=8,layers=1)", 3);
    let before = outputs(&checkpoint);
    let map = checkpoint.var_map();
    assert_eq!(map.all_vars().len(), checkpoint.vars().len());
    let data = map.data().lock().expect("lock");
    let bias = &data["policy.bias"];
    bias.set(&bias.as_tensor().ones_like().expect("ones")).expect("set");
    drop(data);
    assert_ne!(outputs(&checkpoint), before);
}

#[test]
fn a_truncated_model_is_an_error_naming_the_file() {
    let (_temp, dir, _) = saved();
    let path = dir.join(MODEL_FILE);
    let bytes = fs::read(&path).expect("read");
    fs::write(&path, &bytes[..bytes.len() / 2]).expect("write");
    let error = load_error(&dir);
    assert!(error.contains(&path.display().to_string()), "{error}");
    assert!(error.contains("not a valid safetensors file"), "{error}");
}

#[test]
fn a_flipped_byte_is_a_hash_mismatch() {
    let (_temp, dir, checkpoint) = saved();
    let path = dir.join(MODEL_FILE);
    let mut bytes = fs::read(&path).expect("read");
    let last = bytes.len() - 1;
    bytes[last] ^= 0x01;
    fs::write(&path, bytes).expect("write");
    let error = load_error(&dir);
    assert!(error.contains(&path.display().to_string()), "{error}");
    assert!(error.contains("does not match its recorded hash") && error.contains(checkpoint.hash()), "{error}");
}

#[test]
fn a_checkpoint_for_another_game_is_refused() {
    let (_temp, dir, _) = saved();
    let error = Checkpoint::load_for(&dir, "connect_four").expect_err("wrong game").to_string();
    assert!(error.contains(INFO_FILE), "{error}");
    assert!(error.contains("tic_tac_toe") && error.contains("connect_four(rows=6,columns=7,connect=4)"), "{error}");
    assert!(Checkpoint::load_for(&dir, "tic_tac_toe").is_ok());

    // Claiming another game in checkpoint.json: the weights do not fit its observations.
    edit_info(&dir, |info| info["game"] = json!("connect_four(rows=6,columns=7,connect=4)"));
    let error = load_error(&dir);
    assert!(error.contains(MODEL_FILE), "{error}");
    assert!(error.contains("trunk.0.weight") && error.contains("[16, 27]") && error.contains("[16, 126]"), "{error}");
}

#[test]
fn a_tensor_with_the_wrong_shape_names_the_tensor_and_both_shapes() {
    let (_temp, dir, checkpoint) = saved();
    let mut tensors = model_tensors(&checkpoint);
    tensors.insert("policy.weight".to_string(), (vec![8, 16], vec![0.0; 128]));
    write_model(&dir, &tensors);
    let error = load_error(&dir);
    assert!(error.contains(&dir.join(MODEL_FILE).display().to_string()), "{error}");
    assert!(error.contains("`policy.weight`") && error.contains("[8, 16]") && error.contains("[9, 16]"), "{error}");
}

#[test]
fn missing_extra_and_non_finite_tensors_are_errors() {
    let (_temp, dir, checkpoint) = saved();
    let mut tensors = model_tensors(&checkpoint);
    tensors.remove("value.bias");
    write_model(&dir, &tensors);
    let error = load_error(&dir);
    assert!(
        error.contains(MODEL_FILE) && error.contains("`value.bias` is missing") && error.contains("[1]"),
        "{error}"
    );

    let mut tensors = model_tensors(&checkpoint);
    tensors.insert("extra.weight".to_string(), (vec![2], vec![1.0, 2.0]));
    write_model(&dir, &tensors);
    let error = load_error(&dir);
    assert!(error.contains(MODEL_FILE) && error.contains("`extra.weight` is not part of architecture"), "{error}");

    let mut tensors = model_tensors(&checkpoint);
    if let Some((_, values)) = tensors.get_mut("trunk.1.bias") {
        values[3] = f32::NAN;
    }
    write_model(&dir, &tensors);
    let error = load_error(&dir);
    assert!(error.contains(MODEL_FILE) && error.contains("`trunk.1.bias`") && error.contains("non-finite"), "{error}");
}

#[test]
fn a_missing_directory_or_json_is_an_error_naming_it() {
    let (temp, dir, _) = saved();
    let nowhere = temp.path().join("nowhere");
    let error = load_error(&nowhere);
    assert!(error.contains("does not exist") && error.contains("nowhere"), "{error}");

    fs::remove_file(dir.join(INFO_FILE)).expect("remove");
    let error = load_error(&dir);
    assert!(error.contains(&dir.join(INFO_FILE).display().to_string()), "{error}");

    let (_temp, dir, _) = saved();
    fs::remove_file(dir.join(MODEL_FILE)).expect("remove");
    let error = load_error(&dir);
    assert!(error.contains(&dir.join(MODEL_FILE).display().to_string()), "{error}");
}

#[test]
fn garbage_json_is_an_error_naming_the_file() {
    let (_temp, dir, _) = saved();
    fs::write(dir.join(INFO_FILE), "{\"format\": 1, \"game\": ").expect("write");
    let error = load_error(&dir);
    assert!(
        error.contains(&dir.join(INFO_FILE).display().to_string()) && error.contains("not valid checkpoint JSON"),
        "{error}"
    );

    fs::write(dir.join(INFO_FILE), "[1, 2, 3]").expect("write");
    let error = load_error(&dir);
    assert!(error.contains(INFO_FILE) && error.contains("format"), "{error}");
}

#[test]
fn unknown_architectures_fields_and_versions_are_errors() {
    let (_temp, dir, _) = saved();
    edit_info(&dir, |info| info["architecture"] = json!({"kind": "transformer", "layers": 4}));
    let error = load_error(&dir);
    assert!(error.contains(INFO_FILE) && error.contains("transformer"), "{error}");

    let (_temp, dir, _) = saved();
    edit_info(&dir, |info| info["architecture"] = json!({"kind": "mlp", "hidden": 16}));
    let error = load_error(&dir);
    assert!(error.contains(INFO_FILE) && error.contains("layers"), "{error}");

    let (_temp, dir, _) = saved();
    edit_info(&dir, |info| info["format"] = json!(2));
    let error = load_error(&dir);
    assert!(error.contains(INFO_FILE) && error.contains("format version 2"), "{error}");

    let (_temp, dir, _) = saved();
    edit_info(&dir, |info| info["game"] = json!("chess"));
    let error = load_error(&dir);
    assert!(error.contains(INFO_FILE) && error.contains("unknown game `chess`"), "{error}");
}

#[test]
fn architectures_parse_check_and_print_canonically() {
    assert_eq!(Architecture::parse("resnet").expect("defaults").to_string(), "resnet(channels=32,blocks=2)");
    assert_eq!(Architecture::parse("mlp(layers=1)").expect("mlp").to_string(), "mlp(hidden=64,layers=1)");
    assert_eq!(
        Architecture::parse("resnet(norm=true,blocks=1)").expect("norm").to_string(),
        "resnet(channels=32,blocks=1,norm=true)"
    );
    assert_eq!(Architecture::parse("resnet(norm=false)").expect("no norm").to_string(), "resnet(channels=32,blocks=2)");
    // A checkpoint written before norms existed reads as a resnet without them.
    let old: Architecture =
        serde_json::from_str(r#"{"kind": "resnet", "channels": 8, "blocks": 1}"#).expect("an older record");
    assert_eq!(old, Architecture::Resnet { channels: 8, blocks: 1, norm: false });
    let error = Architecture::parse("resnet(width=3)").expect_err("bad parameter").to_string();
    assert!(error.contains("width") && error.contains("channels"), "{error}");
    let error = Architecture::parse("transformer(layers=2)").expect_err("unknown").to_string();
    assert!(error.contains("unknown architecture `transformer`"), "{error}");

    let kuhn = load_game("kuhn_poker").expect("game");
    let error =
        Checkpoint::init(&kuhn, Architecture::parse("resnet").expect("resnet"), 0).expect_err("1-d observation");
    assert!(error.to_string().contains("[planes, rows, columns]"), "{error}");
    assert!(Checkpoint::init(&kuhn, Architecture::parse("mlp").expect("mlp"), 0).is_ok());
}
