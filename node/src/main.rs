//! The `rollmesh` command: a thin entry point over [`rollmesh::cli`].

// glibc's allocator spends a third of a bulk import in malloc/free and arena locks across threads.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    rollmesh::cli::main()
}
