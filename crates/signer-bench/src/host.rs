//! The `host` column: which machine the figures are from.

/// "CPU model (N cores)" of this machine, from /proc/cpuinfo (the architecture and the usable
/// parallelism where that file is missing).
pub fn host_description() -> String {
    let info = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    describe_cpuinfo(&info)
}

/// "CPU model (N cores)" from the text of /proc/cpuinfo.
pub fn describe_cpuinfo(info: &str) -> String {
    let model = info
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split_once(':'))
        .map(|(_, m)| m.trim().to_string())
        .filter(|m| !m.is_empty())
        .unwrap_or_else(|| std::env::consts::ARCH.to_string());
    let cores = info.lines().filter(|l| l.starts_with("processor")).count();
    let cores = if cores == 0 {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    } else {
        cores
    };
    format!("{model} ({cores} cores)")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_model_and_processor_count() {
        let info = "processor\t: 0\nmodel name\t: AMD EPYC 7B13\nflags\t: x\n\n\
                    processor\t: 1\nmodel name\t: AMD EPYC 7B13\n";
        assert_eq!(describe_cpuinfo(info), "AMD EPYC 7B13 (2 cores)");
    }

    #[test]
    fn falls_back_without_cpuinfo() {
        let text = describe_cpuinfo("");
        assert!(text.starts_with(std::env::consts::ARCH), "{text}");
        assert!(text.ends_with(" cores)"), "{text}");
    }
}
