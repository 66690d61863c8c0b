use approvalc_local::*;
fn main() {
    let args: Vec<String> = std::env::args().collect();
    let src = std::fs::read_to_string(&args[1]).unwrap();
    let input: serde_json::Value = serde_json::from_str(&args[2]).unwrap();
    let decisions: Vec<Decision> = args[3..].iter().map(|d| d.parse().unwrap()).collect();
    let (_files, dep) = deploy_source(&src, Faults::default()).unwrap();
    let cfg = RunConfig {
        run_id: "run-1".into(),
        requester: "arn:aws:iam::111111111111:user/requester".into(),
        seed: 0,
        start_ms: 1_704_067_200_000,
        record_history: true,
        auto_actions: false,
    };
    match simulate(dep, input, cfg, &decisions) {
        Ok((world, report)) => {
            println!(
                "{}",
                serde_json::to_string_pretty(&report.to_json()).unwrap()
            );
            for (m, e) in world.executions() {
                println!("{} {} {:?}", m.machine_name, m.name, e.status());
            }
            for t in world.services().tables.values() {
                for i in t.values() {
                    println!("{:?}", i.0.get("prior_approvers"));
                }
            }
            for c in world.handler_calls() {
                println!("{} {} {}", c.function, c.account_id, c.report);
            }
        }
        Err(e) => println!("ERR {e}"),
    }
}
