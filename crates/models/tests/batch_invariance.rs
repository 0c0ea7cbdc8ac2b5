//! Several sequences in one ForwardBatch give bit-identical logits to each sequence run alone, for
//! prefill, chunked prefill mixed with decode, and batched decode, sharing one paged KV pool with
//! interleaved block tables.

mod common;

use common::{run_chunk, tiny_expected};
use models::{ForwardBatch, KvTensors, Model};

const BLOCK: usize = 8;

/// Logits of every position of `tokens`: the first `prompt_len` in one chunk, then one token per step.
fn alone(model: &mut dyn Model, tokens: &[u32], prompt_len: usize) -> Vec<Vec<f32>> {
    let vocab = model.config().vocab_size;
    let n_blocks = tokens.len().div_ceil(BLOCK);
    let mut kv = KvTensors::new(model.kv_spec(), n_blocks, BLOCK).unwrap();
    let table: Vec<u32> = (0..n_blocks as u32).collect();
    let rows: Vec<usize> = (0..prompt_len).collect();
    let mut out: Vec<Vec<f32>> = run_chunk(model, &mut kv, &tokens[..prompt_len], 0, &table, &rows)
        .unwrap()
        .chunks(vocab)
        .map(<[f32]>::to_vec)
        .collect();
    for p in prompt_len..tokens.len() {
        out.push(run_chunk(model, &mut kv, &tokens[p..p + 1], p, &table, &[0]).unwrap());
    }
    out
}

#[test]
fn batched_sequences_equal_alone_bit_for_bit() {
    let (_, prompts) = tiny_expected().unwrap();
    let mut model = common::load_hf(&common::tiny_dir(), 2).unwrap();
    let vocab = model.config().vocab_size;
    // Three sequences: prompt + the first 3 reference greedy tokens (fed back as decode steps).
    let seqs: Vec<(Vec<u32>, usize)> = prompts[..3]
        .iter()
        .map(|p| ([p.ids.as_slice(), &p.greedy[..3]].concat(), p.ids.len()))
        .collect();
    let reference: Vec<Vec<Vec<f32>>> = seqs
        .iter()
        .map(|(t, n)| alone(model.as_mut(), t, *n))
        .collect();

    // One pool; sequence s owns blocks s, s+3, s+6, ... in reverse order.
    let n_blocks: Vec<usize> = seqs.iter().map(|(t, _)| t.len().div_ceil(BLOCK)).collect();
    let per_seq = *n_blocks.iter().max().unwrap();
    let mut kv = KvTensors::new(model.kv_spec(), 3 * per_seq, BLOCK).unwrap();
    let tables: Vec<Vec<u32>> = (0..3)
        .map(|s| (0..per_seq).rev().map(|i| (3 * i + s) as u32).collect())
        .collect();

    // Steps: (sequence, new tokens). Prefill of 0 with part of 1; then the rest of 1, all of 2 and a
    // decode of 0; then decodes of all three; then decodes again.
    let (l0, l1, l2) = (seqs[0].1, seqs[1].1, seqs[2].1);
    let schedule: Vec<Vec<(usize, usize)>> = vec![
        vec![(0, l0), (1, 10)],
        vec![(1, l1 - 10), (2, l2), (0, 1)],
        vec![(2, 1), (0, 1), (1, 1)],
        vec![(0, 1), (1, 1), (2, 1)],
        vec![(1, 1), (2, 1)],
    ];
    let mut done = [0usize; 3];
    let mut batch = ForwardBatch::default();
    let mut checked = 0;
    for step in &schedule {
        batch.clear();
        let mut row_owner = Vec::new();
        for &(s, n) in step {
            let toks = &seqs[s].0[done[s]..done[s] + n];
            batch
                .push_seq(toks, done[s], &tables[s], BLOCK, false)
                .unwrap();
            row_owner.extend((0..n).map(|j| (s, done[s] + j)));
            done[s] += n;
        }
        batch.logits_rows = (0..batch.tokens.len()).collect();
        let logits = model.forward(&batch, &mut kv).unwrap();
        for (row, &(s, pos)) in logits.chunks(vocab).zip(&row_owner) {
            assert!(
                row == reference[s][pos].as_slice(),
                "sequence {s} position {pos} differs from running alone"
            );
            checked += 1;
        }
    }
    assert_eq!(done, [seqs[0].0.len(), seqs[1].0.len(), seqs[2].0.len()]);
    assert_eq!(checked, seqs.iter().map(|(t, _)| t.len()).sum::<usize>());
}

#[test]
fn logits_rows_pick_and_order_rows() {
    let (_, prompts) = tiny_expected().unwrap();
    let mut model = common::load_hf(&common::tiny_dir(), 2).unwrap();
    let vocab = model.config().vocab_size;
    let ids = &prompts[0].ids;
    let table: Vec<u32> = (0..3).collect();
    let mut kv = KvTensors::new(model.kv_spec(), 3, BLOCK).unwrap();
    let all: Vec<usize> = (0..ids.len()).collect();
    let full = run_chunk(model.as_mut(), &mut kv, ids, 0, &table, &all).unwrap();
    let picked = run_chunk(model.as_mut(), &mut kv, ids, 0, &table, &[18, 3, 3]).unwrap();
    assert_eq!(picked.len(), 3 * vocab);
    assert!(picked[..vocab] == full[18 * vocab..19 * vocab]);
    assert!(picked[vocab..2 * vocab] == full[3 * vocab..4 * vocab]);
    assert!(picked[2 * vocab..] == full[3 * vocab..4 * vocab]);
}
