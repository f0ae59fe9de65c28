//! The hardware-backed signers to measure: the device the environment names, else a lab device
//! started here (`leaklab_signers::lab`). Shared by `leaklab bench signers` and the criterion
//! benches, so both measure the same device the same way.

#[cfg(feature = "tpm")]
pub use tpm::TpmDevice;

#[cfg(feature = "pkcs11")]
pub use pkcs11::Pkcs11Device;

#[cfg(feature = "tpm")]
mod tpm {
    use leaklab_signers::lab::Swtpm;
    use leaklab_signers::tpm::{tcti_from_env, TpmSigner};
    use leaklab_signers::SignerError;

    use crate::BenchError;

    /// A TPM 2.0 to sign with: the TCTI the environment names (`LEAKLAB_TCTI`,
    /// `TPM2TOOLS_TCTI`, `TCTI`), else a `swtpm` started on loopback and stopped on drop.
    pub struct TpmDevice {
        tcti: String,
        from_env: bool,
        _swtpm: Option<Swtpm>,
    }

    impl TpmDevice {
        /// [`BenchError::Lab`] when no TPM is named and swtpm cannot be started.
        pub fn open() -> Result<Self, BenchError> {
            if let Some((_, tcti)) = tcti_from_env() {
                return Ok(Self {
                    tcti,
                    from_env: true,
                    _swtpm: None,
                });
            }
            let swtpm = Swtpm::start().map_err(|source| BenchError::Lab {
                device: "TPM",
                source,
            })?;
            Ok(Self {
                tcti: swtpm.tcti(),
                from_env: false,
                _swtpm: Some(swtpm),
            })
        }

        /// The TCTI string (for tss-esapi and `TPM2TOOLS_TCTI`).
        pub fn tcti(&self) -> &str {
            &self.tcti
        }

        /// Whether the environment named this TPM (else it is a swtpm started here).
        pub fn from_env(&self) -> bool {
            self.from_env
        }

        /// The `device` column of its rows: `tpm <tcti>`, or `swtpm` for the lab one.
        pub fn device_name(&self) -> String {
            if self.from_env {
                format!("tpm {}", self.tcti)
            } else {
                "swtpm".into()
            }
        }

        /// Whether several contexts can be open at once (a kernel or user-space resource
        /// manager); otherwise threads must share one context.
        pub fn has_resource_manager(&self) -> bool {
            self.tcti.starts_with("device:/dev/tpmrm") || self.tcti.starts_with("tabrmd")
        }

        /// A new context with a fresh ES256 key in this TPM.
        pub fn signer(&self) -> Result<TpmSigner, SignerError> {
            TpmSigner::open(&self.tcti)
        }
    }
}

#[cfg(feature = "pkcs11")]
mod pkcs11 {
    use leaklab_signers::lab::SoftHsmToken;
    use leaklab_signers::pkcs11::{Pkcs11Config, Pkcs11Signer};
    use leaklab_signers::SignerError;

    use crate::BenchError;

    /// A PKCS#11 token to sign with: the one the environment names (`LEAKLAB_PKCS11_TOKEN`,
    /// `LEAKLAB_PKCS11_MODULE`, `LEAKLAB_PKCS11_PIN`), else a SoftHSM2 token initialised in a
    /// temporary directory and removed on drop.
    pub struct Pkcs11Device {
        config: Pkcs11Config,
        from_env: bool,
        _token: Option<SoftHsmToken>,
    }

    impl Pkcs11Device {
        /// [`BenchError::Lab`] when no token is named and SoftHSM2 cannot be set up;
        /// [`BenchError::Signer`] when the environment's settings are unusable.
        pub fn open() -> Result<Self, BenchError> {
            if std::env::var_os("LEAKLAB_PKCS11_TOKEN").is_some() {
                let config = Pkcs11Config::from_env().map_err(|source| BenchError::Signer {
                    label: "PKCS#11 token from the environment".into(),
                    stage: "reading its settings",
                    source,
                })?;
                return Ok(Self {
                    config,
                    from_env: true,
                    _token: None,
                });
            }
            let token = SoftHsmToken::init().map_err(|source| BenchError::Lab {
                device: "PKCS#11",
                source,
            })?;
            Ok(Self {
                config: token.pkcs11_config(),
                from_env: false,
                _token: Some(token),
            })
        }

        pub fn config(&self) -> &Pkcs11Config {
            &self.config
        }

        /// Whether the environment named this token (else it is a SoftHSM2 one made here).
        pub fn from_env(&self) -> bool {
            self.from_env
        }

        /// The `device` column of its rows: `pkcs11 <module>`, or `softhsm2` for the lab one.
        pub fn device_name(&self) -> String {
            if self.from_env {
                format!("pkcs11 {}", self.config.module.display())
            } else {
                "softhsm2".into()
            }
        }

        /// A new session with a fresh ES256 key pair on this token.
        pub fn signer(&self) -> Result<Pkcs11Signer, SignerError> {
            Pkcs11Signer::open(&self.config)
        }
    }
}
