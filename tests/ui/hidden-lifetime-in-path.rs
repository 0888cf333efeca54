// Edition 2021: a lifetime hidden in an argument's path (`View` for
// `View<'_>`) is not captured by the future's `impl Future` (edition 2024
// captures it). rustc's error points at the argument; writing `View<'_>`
// is the way out (tests/pass/named-lifetime-in-path.rs).
#![allow(elided_lifetimes_in_paths)]

struct View<'a>(&'a [u32]);

#[flowcoro::pooled]
async fn total(view: View) -> u32 {
    view.0.iter().sum()
}

fn main() {
    let data = [1, 2];
    let _ = total(View(&data));
}
