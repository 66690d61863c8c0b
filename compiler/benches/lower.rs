//! Parse + check + lower + serialise at 10 / 100 / 1,000 / 10,000 stages
//! (docs/bench-compile.md). The generated workflow is a series of parallel groups of four
//! stages, each group needing every stage of the group before (series-parallel, so the
//! decomposition adds nothing), a quarter of the stages with a `when`, and templated
//! messages. It also prints the parent definition size against the 1 MB quota.

use approvalc_compiler::lower;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};

fn workflow(stages: usize) -> String {
    let mut text = String::from(
        "apiVersion: approvalc/v1\nname: bench\nregion: us-east-1\nhome: main\n\
         accounts:\n  main: { id: \"111111111111\" }\n  other: { id: \"222222222222\" }\n\
         defaults:\n  timeout: 1h\n\
         input:\n  version: { type: string, required: true }\n  risk: { type: string, enum: [low, high], default: low }\n\
         stages:\n",
    );
    const WIDTH: usize = 4;
    for i in 0..stages {
        let group = i / WIDTH;
        text.push_str(&format!("  s{i}:\n"));
        if group > 0 {
            let needs: Vec<String> = ((group - 1) * WIDTH..group * WIDTH)
                .map(|j| format!("s{j}"))
                .collect();
            text.push_str(&format!("    needs: [{}]\n", needs.join(", ")));
        }
        if i % 4 == 1 {
            text.push_str("    when: input.risk == \"high\"\n");
        }
        if i % 3 == 2 {
            text.push_str("    account: other\n");
        }
        text.push_str(&format!(
            "    ssm:\n      approvers: [arn:aws:iam::111111111111:role/Approver{}]\n      message: \"Approve {{{{ input.version }}}} at stage {i}\"\n",
            i % 7
        ));
    }
    text
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("compile");
    for stages in [10usize, 100, 1_000, 10_000] {
        let source = workflow(stages);
        let compiled = lower::compile(&source);
        if let Some(artifacts) = &compiled.artifacts {
            let parent = &artifacts.manifest.parent;
            eprintln!(
                "{stages} stages: parent {} bytes ({:.1}% of 1 MB), {} states, worst-case history {} events, errors: {:?}",
                parent.definition_bytes,
                parent.definition_bytes as f64 * 100.0 / 1_048_576.0,
                parent.state_count,
                parent.worst_case_history_events,
                compiled
                    .diagnostics
                    .iter()
                    .filter(|d| d.is_error())
                    .map(|d| d.code)
                    .collect::<Vec<_>>()
            );
        } else {
            eprintln!(
                "{stages} stages: not lowered: {:?}",
                compiled
                    .diagnostics
                    .iter()
                    .map(|d| d.code)
                    .collect::<Vec<_>>()
            );
        }
        if stages >= 1_000 {
            group.sample_size(10);
        }
        group.throughput(Throughput::Elements(stages as u64));
        group.bench_with_input(BenchmarkId::from_parameter(stages), &source, |b, source| {
            b.iter(|| {
                let compiled = lower::compile(source);
                compiled
                    .artifacts
                    .map(|a| a.render().map(|files| files.len()))
            });
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
