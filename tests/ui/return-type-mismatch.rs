use flowcoro::pooled;

#[pooled]
async fn count(s: &str) -> u32 {
    s.len()
}

#[pooled]
async fn early(flag: bool) -> u32 {
    if flag {
        return "no";
    }
    1
}

fn main() {}
