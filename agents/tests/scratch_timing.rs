use agents::checkpoint::Checkpoint;
use agents::network::Architecture;
use agents::evaluator::InferenceThreads;
use candle_core::{Device, Tensor};
use std::time::Instant;
#[test]
fn timing() {
    let th = InferenceThreads::new(1).unwrap();
    for (g, a) in [("connect_four", "resnet(channels=32,blocks=2)"), ("tic_tac_toe", "mlp(hidden=64,layers=2)")] {
        let game = games::load_game(g).unwrap();
        let ck = Checkpoint::init(&game, Architecture::parse(a).unwrap(), 1).unwrap();
        let net = ck.network();
        let n = net.observation_size();
        for m in [1usize, 4, 8, 16, 32, 64, 256] {
            let data: Vec<f32> = (0..m * n).map(|i| (i % 3) as f32 * 0.5).collect();
            let x = Tensor::from_slice(&data, (m, n), &Device::Cpu).unwrap();
            let reps = (2000 / m).max(20);
            let t = Instant::now();
            for _ in 0..reps { th.run(|| net.forward(&x).unwrap()); }
            let fwd = t.elapsed().as_secs_f64() / reps as f64;
            let (mut l, mut v) = (Vec::new(), Vec::new());
            let t = Instant::now();
            for _ in 0..reps { l.clear(); v.clear(); th.run(|| net.infer(&data, &mut l, &mut v).unwrap()); }
            let inf = t.elapsed().as_secs_f64() / reps as f64;
            println!("{a} m={m}: forward {:.1}us ({:.0} pos/s), infer {:.1}us ({:.0} pos/s)", fwd*1e6, m as f64/fwd, inf*1e6, m as f64/inf);
        }
    }
}
