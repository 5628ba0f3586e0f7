use clap::Parser;

fn main() -> std::process::ExitCode {
    muster_agent::cli::main(muster_agent::Args::parse())
}
