//! `leaklab dpop …` (to be written).
use clap::Subcommand;

#[derive(Subcommand)]
pub enum DpopCommand {
    /// Print the RFC 7638 thumbprint of a JWK.
    Thumbprint {
        /// The JWK as JSON.
        #[arg(long)]
        jwk: String,
    },
}

pub fn run(cmd: DpopCommand) -> anyhow::Result<super::Outcome> {
    match cmd {
        DpopCommand::Thumbprint { jwk } => {
            let value: serde_json::Value = serde_json::from_str(&jwk)
                .map_err(|e| anyhow::anyhow!("--jwk is not valid JSON: {e}"))?;
            let jwk = leaklab::protocol::jwk::Jwk::from_json(&value)?;
            println!("{}", jwk.thumbprint());
            Ok(super::Outcome::Success)
        }
    }
}
