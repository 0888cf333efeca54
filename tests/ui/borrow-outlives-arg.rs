use flowcoro::pooled;

#[pooled]
async fn len(s: &str) -> usize {
    s.len()
}

#[pooled]
async fn push(v: &mut Vec<u32>, x: u32) {
    v.push(x);
}

fn main() {
    let fut;
    {
        let text = String::from("frame");
        fut = len(&text);
    }
    let _ = fut;

    let mut v = Vec::new();
    let pending = push(&mut v, 1);
    v.push(2);
    drop(pending);
}
