//! `ikz-api`: parses the command line and calls the library (`ikz_api::cli`).

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    return_large_blocks_to_the_os();
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).init();
    match ikz_api::cli::run(ikz_api::cli::Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            log::error!("{err}");
            ExitCode::FAILURE
        }
    }
}

/// Password hashing allocates 19 MiB per hash. After such a block is freed, glibc raises its mmap
/// threshold, and later large blocks come from per-thread arenas that keep them: a few logins
/// would leave ~20 MiB resident per thread. A fixed threshold keeps large blocks in mmap, which
/// returns them to the system when freed.
fn return_large_blocks_to_the_os() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets an allocator parameter; it is called before any other thread exists.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 256 * 1024);
    }
}
