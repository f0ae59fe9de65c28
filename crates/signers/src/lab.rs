//! Lab provisioning of real (software) signing devices: a `swtpm` TPM 2.0 simulator on loopback
//! and a SoftHSM2 token in a temporary directory.
//!
//! Tests, benches and `leaklab bench signers` use these when the environment names no real
//! device, so the TPM and PKCS#11 code paths always run against real implementations of the
//! protocols, never mocks. Everything created here lives in a temporary directory and is removed
//! (and the `swtpm` process killed) on drop.
//!
//! Binaries used (Debian/Ubuntu packages in brackets): `swtpm` [swtpm], `softhsm2-util`
//! [softhsm2], and the module `libsofthsm2.so` [libsofthsm2, pulled in by softhsm2].

use std::io::Write as _;
use std::net::{Ipv4Addr, SocketAddrV4, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Where SoftHSM2's PKCS#11 module lives on Debian/Ubuntu (package `libsofthsm2`).
pub const SOFTHSM_MODULES: [&str; 2] = [
    "/usr/lib/softhsm/libsofthsm2.so",
    "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
];

/// Why a lab device could not be provisioned.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LabError {
    /// A required program or library is not installed.
    #[error("`{binary}` not found: install the Debian/Ubuntu package `{package}` (apt-get install {package})")]
    Missing {
        binary: String,
        package: &'static str,
    },
    #[error("{what}: {message}")]
    Io { what: String, message: String },
    #[error("`{command}` failed ({status}): {stderr}")]
    CommandFailed {
        command: String,
        status: String,
        stderr: String,
    },
    #[error(
        "swtpm did not accept connections on 127.0.0.1:{port} within {waited_ms} ms: {detail}"
    )]
    SwtpmStart {
        port: u16,
        waited_ms: u128,
        detail: String,
    },
}

impl LabError {
    /// True when the error means "this machine lacks the software", not a failure of it.
    pub fn is_missing(&self) -> bool {
        matches!(self, LabError::Missing { .. })
    }

    fn io(what: impl Into<String>, e: std::io::Error) -> Self {
        LabError::Io {
            what: what.into(),
            message: e.to_string(),
        }
    }
}

/// The full path of the executable `binary` on `PATH`, if installed (the `which` crate).
pub fn which(binary: &str) -> Option<PathBuf> {
    which::which(binary).ok()
}

fn require(binary: &str, package: &'static str) -> Result<PathBuf, LabError> {
    which(binary).ok_or_else(|| LabError::Missing {
        binary: binary.to_string(),
        package,
    })
}

/// A `swtpm socket --tpm2` process on two free loopback ports, with its state in a temporary
/// directory. Killed on drop.
pub struct Swtpm {
    child: Child,
    port: u16,
    _state: tempfile::TempDir,
}

impl Swtpm {
    /// How long to wait for swtpm to listen.
    const START_TIMEOUT: Duration = Duration::from_secs(10);

    /// Starts swtpm and waits until it accepts connections. The TPM is started up already
    /// (`--flags not-need-init,startup-clear`), so clients can send commands right away.
    pub fn start() -> Result<Self, LabError> {
        let binary = require("swtpm", "swtpm")?;
        // Ports can be taken between probing and binding; retry a few times on early exit.
        let mut last = None;
        for _ in 0..5 {
            match Self::try_start(&binary) {
                Ok(s) => return Ok(s),
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| LabError::SwtpmStart {
            port: 0,
            waited_ms: 0,
            detail: "no attempt made".into(),
        }))
    }

    fn try_start(binary: &Path) -> Result<Self, LabError> {
        let port = free_port_pair()?;
        let state = tempfile::Builder::new()
            .prefix("leaklab-swtpm-")
            .tempdir()
            .map_err(|e| LabError::io("creating swtpm state directory", e))?;
        let log = state.path().join("swtpm.log");
        let stderr_path = state.path().join("stderr.txt");
        let stderr_file = std::fs::File::create(&stderr_path)
            .map_err(|e| LabError::io(format!("creating {}", stderr_path.display()), e))?;
        let mut child = Command::new(binary)
            .arg("socket")
            .arg("--tpm2")
            .arg("--server")
            .arg(format!("type=tcp,port={port},bindaddr=127.0.0.1"))
            .arg("--ctrl")
            .arg(format!("type=tcp,port={},bindaddr=127.0.0.1", port + 1))
            .arg("--tpmstate")
            .arg(format!("dir={}", state.path().display()))
            .arg("--log")
            .arg(format!("file={},level=1", log.display()))
            .arg("--flags")
            .arg("not-need-init,startup-clear")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(stderr_file))
            .spawn()
            .map_err(|e| LabError::io(format!("starting {}", binary.display()), e))?;
        let started = Instant::now();
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                let stderr = std::fs::read_to_string(&stderr_path).unwrap_or_default();
                let logged = std::fs::read_to_string(&log).unwrap_or_default();
                return Err(LabError::SwtpmStart {
                    port,
                    waited_ms: started.elapsed().as_millis(),
                    detail: format!(
                        "swtpm exited with {status}: {}{}",
                        stderr.trim(),
                        logged.trim()
                    ),
                });
            }
            // A bare connect-and-close is harmless: swtpm serves one client at a time and goes
            // back to accepting when the client hangs up. Probe the control port last.
            let ready = [port, port + 1].iter().all(|p| {
                TcpStream::connect_timeout(
                    &SocketAddrV4::new(Ipv4Addr::LOCALHOST, *p).into(),
                    Duration::from_millis(200),
                )
                .is_ok()
            });
            if ready {
                return Ok(Self {
                    child,
                    port,
                    _state: state,
                });
            }
            if started.elapsed() > Self::START_TIMEOUT {
                let _ = child.kill();
                let _ = child.wait();
                return Err(LabError::SwtpmStart {
                    port,
                    waited_ms: started.elapsed().as_millis(),
                    detail: "timed out".into(),
                });
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// The TCTI string for tss-esapi and tpm2-tools (`TPM2TOOLS_TCTI`).
    pub fn tcti(&self) -> String {
        format!("swtpm:host=127.0.0.1,port={}", self.port)
    }

    /// The TPM command port (the control port is the next one).
    pub fn port(&self) -> u16 {
        self.port
    }
}

impl Drop for Swtpm {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Two consecutive free loopback ports (swtpm's server and control ports), as far as can be told
/// without holding them.
fn free_port_pair() -> Result<u16, LabError> {
    for _ in 0..50 {
        let probe = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .map_err(|e| LabError::io("probing a free port", e))?;
        let port = probe
            .local_addr()
            .map_err(|e| LabError::io("probing a free port", e))?
            .port();
        if port == u16::MAX {
            continue;
        }
        if TcpListener::bind((Ipv4Addr::LOCALHOST, port + 1)).is_ok() {
            return Ok(port);
        }
    }
    Err(LabError::Io {
        what: "probing free ports".into(),
        message: "no two consecutive free ports".into(),
    })
}

/// A SoftHSM2 token initialised in a temporary token directory.
///
/// SoftHSM2 reads its configuration file from `SOFTHSM2_CONF` when the module is initialised
/// (`C_Initialize`), so [`SoftHsmToken::init`] sets that variable for the whole process: create
/// at most one lab token per process, before any PKCS#11 module is loaded.
pub struct SoftHsmToken {
    dir: tempfile::TempDir,
    module: PathBuf,
    label: String,
    pin: String,
}

impl SoftHsmToken {
    /// Default token label.
    pub const LABEL: &'static str = "leaklab";
    /// User PIN of the lab token (a throw-away token in a temporary directory).
    pub const PIN: &'static str = "123456";
    /// Security officer PIN of the lab token.
    pub const SO_PIN: &'static str = "12345678";

    /// Writes a `softhsm2.conf`, points `SOFTHSM2_CONF` at it and initialises a token with
    /// `softhsm2-util --init-token --free`.
    pub fn init() -> Result<Self, LabError> {
        let util = require("softhsm2-util", "softhsm2")?;
        let module = SOFTHSM_MODULES
            .iter()
            .map(PathBuf::from)
            .find(|p| p.exists())
            .ok_or_else(|| LabError::Missing {
                binary: SOFTHSM_MODULES.join(" or "),
                package: "libsofthsm2",
            })?;
        let dir = tempfile::Builder::new()
            .prefix("leaklab-softhsm-")
            .tempdir()
            .map_err(|e| LabError::io("creating SoftHSM2 directory", e))?;
        let tokens = dir.path().join("tokens");
        std::fs::create_dir(&tokens)
            .map_err(|e| LabError::io(format!("creating {}", tokens.display()), e))?;
        let conf = dir.path().join("softhsm2.conf");
        let mut file = std::fs::File::create(&conf)
            .map_err(|e| LabError::io(format!("writing {}", conf.display()), e))?;
        writeln!(
            file,
            "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false",
            tokens.display()
        )
        .map_err(|e| LabError::io(format!("writing {}", conf.display()), e))?;
        drop(file);
        let output = Command::new(&util)
            .env("SOFTHSM2_CONF", &conf)
            .args([
                "--init-token",
                "--free",
                "--label",
                Self::LABEL,
                "--so-pin",
                Self::SO_PIN,
                "--pin",
                Self::PIN,
            ])
            .stdin(Stdio::null())
            .output()
            .map_err(|e| LabError::io(format!("running {}", util.display()), e))?;
        if !output.status.success() {
            return Err(LabError::CommandFailed {
                command: "softhsm2-util --init-token".into(),
                status: output.status.to_string(),
                stderr: String::from_utf8_lossy(&output.stderr).trim().to_string(),
            });
        }
        std::env::set_var("SOFTHSM2_CONF", &conf);
        Ok(Self {
            dir,
            module,
            label: Self::LABEL.into(),
            pin: Self::PIN.into(),
        })
    }

    /// The PKCS#11 module path.
    pub fn module(&self) -> &Path {
        &self.module
    }

    /// The token label.
    pub fn label(&self) -> &str {
        &self.label
    }

    /// The user PIN.
    pub fn pin(&self) -> &str {
        &self.pin
    }

    /// The configuration file (`SOFTHSM2_CONF`).
    pub fn conf(&self) -> PathBuf {
        self.dir.path().join("softhsm2.conf")
    }

    /// A PKCS#11 signer configuration for this token.
    #[cfg(feature = "pkcs11")]
    pub fn pkcs11_config(&self) -> super::pkcs11::Pkcs11Config {
        super::pkcs11::Pkcs11Config {
            module: self.module.clone(),
            token_label: self.label.clone(),
            pin: self.pin.clone(),
        }
    }
}
