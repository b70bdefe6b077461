//! `take_away` plays without allocating: `legal_actions` into a buffer with room, `apply`,
//! `apply_unchecked`, `is_legal`, `turn` and `player_return` never touch the heap. A counting
//! global allocator (per thread, so other tests running at the same time do not disturb it) checks.

#![allow(unsafe_code)] // a global allocator can only be written with `unsafe`

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

struct Counting;

thread_local! {
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

// SAFETY: every call is forwarded unchanged to the system allocator; counting touches only a
// const-initialised thread-local `Cell`, which itself never allocates.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
        // SAFETY: the caller's contract for `alloc` is passed on as is.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `System.alloc` with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
        // SAFETY: the caller's contract for `realloc` is passed on as is.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocations() -> u64 {
    ALLOCATIONS.with(Cell::get)
}

#[test]
fn playing_moves_does_not_allocate() {
    let game = custom_game::registry().load("take_away(stones=63,max_take=9)").unwrap_or_else(|e| panic!("{e}"));
    let mut state = game.new_initial_state();
    let mut legal = Vec::with_capacity(game.facts().num_distinct_actions);
    let mut returns = 0.0;
    let before = allocations();
    let mut moves = 0;
    while !state.is_terminal() {
        state.legal_actions(&mut legal);
        // Alternate between the checked and the unchecked path; take a varying amount.
        let action = legal[moves % legal.len()];
        assert!(state.is_legal(action));
        if moves % 2 == 0 {
            assert!(state.apply(action).is_ok());
        } else {
            state.apply_unchecked(action);
        }
        returns += state.player_return(0) + state.player_return(1);
        moves += 1;
    }
    let during = allocations() - before;
    assert_eq!(during, 0, "{moves} moves allocated {during} times");
    assert_eq!(returns, 0.0);
    assert!(moves > 10);
}
