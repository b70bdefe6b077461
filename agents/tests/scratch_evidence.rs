use agents::checkpoint::Checkpoint;
use agents::network::Architecture;
use candle_core::{Device, Tensor};
use rand::{Rng, SeedableRng};
#[test]
fn evidence() {
    for (g, a) in [("tic_tac_toe", "mlp(hidden=64,layers=2)"), ("connect_four", "mlp(hidden=128,layers=2)"), ("connect_four", "resnet(channels=32,blocks=2)"), ("othello", "mlp(hidden=256,layers=2)")] {
        let game = games::load_game(g).unwrap();
        let ck = Checkpoint::init(&game, Architecture::parse(a).unwrap(), 1).unwrap();
        let net = ck.network();
        let n = net.observation_size();
        let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(3);
        let rows = 256;
        let data: Vec<f32> = (0..rows * n).map(|_| rng.random::<f32>()).collect();
        let full = Tensor::from_slice(&data, (rows, n), &Device::Cpu).unwrap();
        let (l_full, _) = net.forward(&full).unwrap();
        let l_full = l_full.to_vec2::<f32>().unwrap();
        for m in [1usize, 2, 7, 16, 64] {
            let part = full.narrow(0, 0, m).unwrap();
            let (l, _) = net.forward(&part).unwrap();
            let l = l.to_vec2::<f32>().unwrap();
            let mut diff = 0; let mut maxd = 0f32;
            for r in 0..m { for c in 0..l[r].len() { if l[r][c].to_bits() != l_full[r][c].to_bits() { diff += 1; maxd = maxd.max((l[r][c]-l_full[r][c]).abs()); } } }
            println!("{g} {a}: forward batch {m} vs 256: {diff}/{} logits differ (max {maxd:e})", m * l[0].len());
        }
    }
}
