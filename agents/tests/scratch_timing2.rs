use agents::checkpoint::Checkpoint;
use agents::network::Architecture;
use agents::evaluator::InferenceThreads;
use candle_core::{Device, Tensor};
use std::time::Instant;
#[test]
fn timing2() {
    let th = InferenceThreads::new(1).unwrap();
    let game = games::load_game("tic_tac_toe").unwrap();
    let ck = Checkpoint::init(&game, Architecture::parse("mlp(hidden=64,layers=2)").unwrap(), 1).unwrap();
    let net = ck.network();
    let data: Vec<f32> = (0..27).map(|i| (i % 3) as f32 * 0.5).collect();
    let x = Tensor::from_slice(&data, (1, 27), &Device::Cpu).unwrap();
    for round in 0..3 {
        let reps = 2000;
        let t = Instant::now();
        for _ in 0..reps { net.forward(&x).unwrap(); }
        let direct = t.elapsed().as_secs_f64() / reps as f64;
        let t = Instant::now();
        for _ in 0..reps { th.run(|| net.forward(&x).unwrap()); }
        let pooled = t.elapsed().as_secs_f64() / reps as f64;
        let t = Instant::now();
        for _ in 0..reps { th.run(|| 1); }
        let empty = t.elapsed().as_secs_f64() / reps as f64;
        let t = Instant::now();
        for _ in 0..reps { let _ = x.matmul(&x.t().unwrap()).unwrap(); }
        let mm = t.elapsed().as_secs_f64() / reps as f64;
        println!("round {round}: direct {:.1}us pooled {:.1}us empty install {:.1}us 1x27x1 matmul {:.1}us", direct*1e6, pooled*1e6, empty*1e6, mm*1e6);
    }
}
