//! The `rollmesh` command: a thin entry point over [`rollmesh::cli`].

fn main() -> std::process::ExitCode {
    rollmesh::cli::main()
}
