//! The developer sandbox folder (`sandbox/`): the docker-compose file is valid YAML and names
//! only files that exist, every pipeline passes `sluice check` with the example filters, the
//! filters' own test cases pass, and the samples load as their pipelines expect.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use sluice::standin::kafka::{Format, MockKafka};

fn sandbox() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("sandbox")
}

fn sluice(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sluice"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_remove("KAFKA")
        .output()
        .expect("sluice runs")
}

fn compose() -> serde_yaml::Value {
    let text = std::fs::read_to_string(sandbox().join("docker-compose.yml")).unwrap();
    serde_yaml::from_str(&text).expect("docker-compose.yml is valid YAML")
}

#[test]
fn the_compose_file_starts_elasticsearch_kibana_and_sluice_from_files_that_exist() {
    let compose = compose();
    let services = compose["services"].as_mapping().expect("services");
    for name in ["elasticsearch", "kibana", "sluice"] {
        assert!(services.contains_key(name), "no {name} service");
    }
    let sluice = &compose["services"]["sluice"];
    let context = sandbox().join(sluice["build"]["context"].as_str().unwrap());
    let dockerfile = context.join(sluice["build"]["dockerfile"].as_str().unwrap());
    assert!(dockerfile.is_file(), "{}", dockerfile.display());
    let mut mounted = Vec::new();
    for service in services.values() {
        for volume in service["volumes"].as_sequence().into_iter().flatten() {
            let spec = volume.as_str().unwrap();
            let host = spec.split(':').next().unwrap();
            if host.starts_with('.') {
                let path = sandbox().join(host);
                assert!(path.exists(), "{spec}: {} does not exist", path.display());
                mounted.push(spec.split(':').nth(1).unwrap().to_string());
            }
        }
    }
    // The paths sluice is started with are mounted.
    let args: Vec<&str> = sluice["entrypoint"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    for arg in args.iter().filter(|a| a.starts_with("/sandbox/")) {
        assert!(
            mounted.iter().any(|m| arg.starts_with(m.as_str())),
            "{arg} is not mounted: {mounted:?}"
        );
    }
}

#[test]
fn every_pipeline_passes_check_with_the_example_filters() {
    let pipelines = sandbox().join("pipelines");
    let mut checked = 0;
    for entry in std::fs::read_dir(&pipelines).unwrap() {
        let path = entry.unwrap().path();
        let out = sluice(&[
            "check",
            "-f",
            path.to_str().unwrap(),
            "-f",
            "sandbox/filters",
        ]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{}: {stderr}", path.display());
        checked += 1;
    }
    assert_eq!(checked, 4);
}

#[test]
fn the_example_filters_pass_their_tests() {
    let out = sluice(&["test", "sandbox/filters"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(stdout.contains("2 passed, 0 failed"), "{stdout}");
}

#[test]
fn the_business_sample_loads_as_flume_events() {
    let kafka = MockKafka::new().unwrap();
    kafka.create_topic("logs", 4).unwrap();
    let sample = sandbox().join("samples/business.log");
    let format = Format::Flume {
        headers: Vec::new(),
    };
    assert_eq!(kafka.load_file(&sample, &format, "logs").unwrap(), 4);
}

#[test]
fn the_docker_sample_gives_events_with_the_task_and_app() {
    use std::io::{BufRead, BufReader};
    let data = tempfile::tempdir().unwrap();
    // The docker pipeline's input, with events as JSON lines to read them back.
    let config = format!(
        r#"input {{ docker_logs {{ path => "{}" start_position => "beginning" }} }}
           output {{ stdout {{ codec => json_lines }} }}"#,
        sandbox().join("samples/docker/containers").display()
    );
    let mut child = Command::new(env!("CARGO_BIN_EXE_sluice"))
        .args(["run", "--http.port", "0", "-e", &config])
        .args(["--path.data", data.path().to_str().unwrap()])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let events: Vec<serde_json::Value> = BufReader::new(stdout)
        .lines()
        .take(3)
        .map(|l| serde_json::from_str(&l.unwrap()).unwrap())
        .collect();
    child.kill().ok();
    child.wait().ok();
    assert_eq!(events.len(), 3);
    for event in &events {
        assert_eq!(
            event["MESOS_TASK_ID"],
            "shop_checkout.7c1e2f90-c5a8-11f0-9d1b-0242ac110002"
        );
        assert_eq!(event["MARATHON_APP_ID"], "/shop/checkout");
        assert_eq!(event["container"]["name"], "mesos-checkout-7c1e");
    }
    assert_eq!(events[1]["message"], "order 91873 paid in 212 ms");
    assert_eq!(events[2]["stream"], "stderr");
}
