//! The `leaklab` command line. Only this binary touches argv, files and the terminal.

mod cli;

fn main() -> std::process::ExitCode {
    cli::main()
}
