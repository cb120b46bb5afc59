//! The test OParl server (`tests/api/oparl_server.rs`) as a program, for `scripts/bench-sync`:
//! serves a synthetic council system on 127.0.0.1 until killed and prints its System URL.
//! `POST /control/change-papers?count=N` changes N papers (as a council office would).
//!
//!   cargo bench --bench oparl_fixture -- PAPERS [PAGE_SIZE]

#[path = "../tests/api/oparl_server.rs"]
mod oparl_server;

use oparl_server::{OparlServer, Size, World};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with("--")).collect();
    let papers: usize = args.first().and_then(|a| a.parse().ok()).unwrap_or(10_000);
    let page_size: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(100);
    let bodies = 2;
    let size = Size {
        bodies,
        papers_per_body: papers / bodies,
        meetings_per_body: (papers / bodies / 20).max(1),
        organizations_per_body: 8,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    runtime.block_on(async move {
        let mut world = World::generate(42, size);
        world.page_size = page_size;
        let server = OparlServer::start(world);
        println!("{}", server.system_url());
        std::future::pending::<()>().await;
    });
}
