//! The `envk` command line: argument parsing and printing, nothing else.
//!
//! Exit codes: 0 ok, 1 the program has errors (or warnings under
//! `--deny warnings`), 2 usage or I/O error.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use codespan_reporting::term::termcolor::{ColorChoice, StandardStream};

use envk::check::Goal;
use envk::diag::{self, Code};
use envk::timings::{Phase, Timings};
use envk::{driver, emit, output, stdlib_doc};

mod allocator;

#[derive(Parser)]
#[command(
    name = "envk",
    version,
    about = "Type-check environment descriptions (.env.k) and compile them to Kubernetes, Prometheus and Argo CD manifests",
    propagate_version = true
)]
struct Cli {
    /// When to colour diagnostics.
    #[arg(long, value_enum, default_value_t = Color::Auto, global = true)]
    color: Color,

    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Parse and check .env.k files; print every problem found.
    Check {
        /// Files, or folders searched for *.env.k files.
        #[arg(required = true, value_name = "PATH")]
        paths: Vec<PathBuf>,

        /// Check each program among the files given on its own: a file no
        /// other imports is a root, and its program is it and what it
        /// imports. The language server finds a file's program the same way.
        #[arg(long)]
        programs: bool,

        #[command(flatten)]
        report: ReportArgs,
    },
    /// A language server over stdio, for editors: every diagnostic of
    /// `check` as you type, hover, definition, references, rename,
    /// completion, formatting, symbols, code actions and inlay hints.
    Lsp,
    /// Check .env.k files and write the manifests they describe.
    Build {
        /// Files, or folders searched for *.env.k files.
        #[arg(required = true, value_name = "PATH")]
        paths: Vec<PathBuf>,

        /// The folder to write. It is replaced as a whole, and only if it is
        /// new, empty, or was written by envk.
        #[arg(short = 'o', long = "out", value_name = "DIR")]
        out: PathBuf,

        /// Write nothing; exit 1 and list the differences if DIR is not
        /// what this build would write (a CI drift check).
        #[arg(long)]
        check: bool,

        /// Annotate every object with `envk.dev/source: FILE:LINE`.
        #[arg(long)]
        provenance: bool,

        /// `tree`: one file per object. `stream`: per cluster, one
        /// multi-document file per group (namespaces, monitoring, Argo CD),
        /// for fleets where many small files are the cost.
        #[arg(long, value_enum, default_value_t = Layout::Tree)]
        layout: Layout,

        /// How the teams' Argo CD Applications are written: `applications`,
        /// one per env; `applicationsets`, one ApplicationSet per
        /// environment whose list generator gives the same Applications,
        /// for fleets of tens of thousands of them.
        #[arg(long, value_enum, default_value_t = ArgoCd::Applications)]
        argocd: ArgoCd,

        /// Also write report/index.html: the build drawn for people (quota
        /// bars, who reaches whom, who may do what, alerts, policies,
        /// cost), one self-contained page.
        #[arg(long = "report")]
        html_report: bool,

        /// `CLUSTER/NAMESPACE`: stop naming a namespace no longer declared
        /// (once it is deleted from the cluster). Repeatable.
        #[arg(long, value_name = "CLUSTER/NAMESPACE")]
        forget: Vec<String>,

        #[command(flatten)]
        report: ReportArgs,
    },
    /// What changes between two builds: objects added, removed and
    /// changed, and what the change means (paths, grants, quotas, alerts,
    /// policies, cost). Exit 0: no change; 1: changes; 2: an error.
    Diff {
        /// Two build folders, OLD then NEW; with `--base`, the program's
        /// files or folders, built as they are and as they were at REV.
        #[arg(required = true, value_name = "PATH")]
        paths: Vec<PathBuf>,

        /// A git revision: build the program as it was there (read from
        /// git, the work tree untouched) and compare it with the program
        /// as it is.
        #[arg(long, value_name = "REV")]
        base: Option<String>,

        /// `terminal`, `markdown` (for a pull-request comment) or `json`.
        #[arg(long, value_enum, default_value_t = DiffFormat::Terminal)]
        format: DiffFormat,

        /// With `--format markdown`: write each part of the comment to
        /// DIR/comment-N.md (each under GitHub's 65,536 characters)
        /// instead of printing them.
        #[arg(long, value_name = "DIR")]
        parts_dir: Option<PathBuf>,

        /// With `--base`: how Applications are built, as `build --argocd`.
        #[arg(long, value_enum, default_value_t = ArgoCd::Applications)]
        argocd: ArgoCd,
    },
    /// What the envs' quotas cost a month at list prices: per env, per
    /// team (or another label), per tier and per cluster.
    Cost {
        /// Files, or folders searched for *.env.k files.
        #[arg(required = true, value_name = "PATH")]
        paths: Vec<PathBuf>,

        /// The namespace label envs are grouped by. `team` falls back to
        /// the env's own name where it has no `team` label.
        #[arg(long, value_name = "LABEL", default_value = "team")]
        by: String,

        /// `table` (aligned text), `csv`, `json` or `markdown`.
        #[arg(long, value_enum, default_value_t = CostFormat::Table)]
        format: CostFormat,

        #[command(flatten)]
        report: ReportArgs,
    },
    /// Rewrite .env.k files in the canonical layout, comments kept.
    Fmt {
        /// Files, or folders searched for *.env.k files.
        #[arg(required = true, value_name = "PATH")]
        paths: Vec<PathBuf>,

        /// Write nothing; list the files that are not formatted and exit 1
        /// if there are any.
        #[arg(long)]
        check: bool,
    },
    /// Explain a diagnostic code, such as E0101, with an example and the
    /// fix; or show a standard library module, such as std/alerts.
    Explain {
        /// A code, as printed in a diagnostic (E0101), a standard library
        /// module (std/alerts), or `std` for the list of modules.
        topic: String,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum Color {
    Auto,
    Always,
    Never,
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
enum MessageFormat {
    Human,
    Json,
}

#[derive(Clone, Copy, ValueEnum)]
enum Deny {
    Warnings,
}

#[derive(Clone, Copy, ValueEnum)]
enum Layout {
    Tree,
    Stream,
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
enum DiffFormat {
    Terminal,
    Markdown,
    Json,
}

#[derive(Clone, Copy, ValueEnum)]
enum CostFormat {
    Table,
    Csv,
    Json,
    Markdown,
}

#[derive(Clone, Copy, ValueEnum)]
enum ArgoCd {
    Applications,
    #[value(name = "applicationsets")]
    ApplicationSets,
}

/// The options of `check` and `build` that say how a run reports.
#[derive(clap::Args, Clone, Copy)]
struct ReportArgs {
    /// How to print diagnostics: `human` (rustc-style) or `json` (one
    /// object per line on stdout, for CI tools).
    #[arg(long, value_enum, default_value_t = MessageFormat::Human)]
    message_format: MessageFormat,

    /// Treat warnings as errors: `--deny warnings`.
    #[arg(long, value_enum, value_name = "LINT")]
    deny: Option<Deny>,

    /// Print the time and resident memory of each phase (load, parse,
    /// resolve, check, and for `build` emit and write) on stderr.
    #[arg(long)]
    timings: bool,
}

/// How a run reports: its options, and the colour the whole CLI uses.
#[derive(Clone, Copy)]
struct Report {
    format: MessageFormat,
    deny: Option<Deny>,
    color: Color,
    timings: bool,
}

impl Report {
    fn new(args: ReportArgs, color: Color) -> Report {
        Report {
            format: args.message_format,
            deny: args.deny,
            color,
            timings: args.timings,
        }
    }
}

fn main() -> ExitCode {
    allocator::keep_freed_memory();
    let cli = Cli::parse();
    match cli.command {
        Command::Check {
            paths,
            programs: true,
            report,
        } => {
            let report = Report::new(report, cli.color);
            let roots = match driver::programs(&paths) {
                Ok(roots) => roots,
                Err(error) => {
                    eprintln!("error: {error}");
                    return ExitCode::from(2);
                }
            };
            // Each program on its own; the worst outcome is the exit code.
            let mut worst = ExitCode::SUCCESS;
            for root in roots {
                match run_check_program(
                    std::slice::from_ref(&root),
                    Some(&root),
                    Goal::Diagnostics,
                    report,
                ) {
                    Ok((model, spent)) => {
                        driver::leave_to_exit(model);
                        print_timings(report, &spent);
                    }
                    Err(code) if code == ExitCode::from(2) => return code,
                    Err(code) => worst = code,
                }
            }
            worst
        }
        Command::Lsp => envk::lsp::serve_stdio(),
        Command::Check {
            paths,
            programs: false,
            report,
        } => {
            let report = Report::new(report, cli.color);
            match run_check(&paths, Goal::Diagnostics, report) {
                Ok((model, spent)) => {
                    driver::leave_to_exit(model);
                    print_timings(report, &spent);
                    ExitCode::SUCCESS
                }
                Err(code) => code,
            }
        }
        Command::Build {
            paths,
            out,
            check,
            provenance,
            layout,
            argocd,
            html_report,
            forget,
            report,
        } => {
            let options = emit::Options {
                provenance,
                report: html_report,
                layout: match layout {
                    Layout::Tree => emit::Layout::Tree,
                    Layout::Stream => emit::Layout::Stream,
                },
                argocd: match argocd {
                    ArgoCd::Applications => emit::ArgoCd::Applications,
                    ArgoCd::ApplicationSets => emit::ArgoCd::ApplicationSets,
                },
            };
            let report = Report::new(report, cli.color);
            build(&paths, &out, check, options, &forget, report)
        }
        Command::Diff {
            paths,
            base,
            format,
            parts_dir,
            argocd,
        } => {
            let argocd = match argocd {
                ArgoCd::Applications => emit::ArgoCd::Applications,
                ArgoCd::ApplicationSets => emit::ArgoCd::ApplicationSets,
            };
            let colour = match cli.color {
                Color::Always => true,
                Color::Never => false,
                Color::Auto => std::io::stdout().is_terminal(),
            };
            diff(
                &paths,
                base.as_deref(),
                format,
                parts_dir.as_deref(),
                argocd,
                colour,
            )
        }
        Command::Cost {
            paths,
            by,
            format,
            report,
        } => {
            let report = Report::new(report, cli.color);
            let format = match format {
                CostFormat::Table => envk::cost::table::Format::Table,
                CostFormat::Csv => envk::cost::table::Format::Csv,
                CostFormat::Json => envk::cost::table::Format::Json,
                CostFormat::Markdown => envk::cost::table::Format::Markdown,
            };
            cost(&paths, &by, format, report)
        }
        Command::Fmt { paths, check } => fmt(&paths, check, cli.color),
        Command::Explain { topic } => explain(&topic),
    }
}

/// Checks the program and prints its diagnostics: the checked Model when
/// the run may go on, else the exit code.
fn run_check(
    paths: &[PathBuf],
    goal: Goal,
    report: Report,
) -> Result<(Option<envk::model::Model>, Timings), ExitCode> {
    run_check_program(paths, None, goal, report)
}

/// `run_check`, for the program of `root` among several (`check
/// --programs`): its diagnostics, if any, come after a line naming it.
fn run_check_program(
    paths: &[PathBuf],
    root: Option<&std::path::Path>,
    goal: Goal,
    report: Report,
) -> Result<(Option<envk::model::Model>, Timings), ExitCode> {
    let Report {
        format,
        deny,
        color,
        ..
    } = report;
    let run = match driver::run(paths, goal, driver::Memory::LeaveToExit) {
        Ok(run) => run,
        Err(error) => {
            eprintln!("error: {error}");
            return Err(ExitCode::from(2));
        }
    };
    let failed = run.has_errors() || (deny.is_some() && !run.diagnostics.is_empty());
    let printed = match format {
        MessageFormat::Json => {
            let mut stdout = std::io::stdout().lock();
            stdout
                .write_all(diag::render_json(&run.sources, &run.diagnostics).as_bytes())
                .and_then(|()| stdout.flush())
        }
        MessageFormat::Human => {
            let mut stderr = StandardStream::stderr(color_choice(color));
            let named = match root {
                Some(root) if !run.diagnostics.is_empty() => {
                    writeln!(stderr, "in the program of `{}`:", root.display())
                }
                _ => Ok(()),
            };
            named
                .and_then(|()| diag::render_human(&mut stderr, &run.sources, &run.diagnostics))
                .and_then(|()| {
                    if run.diagnostics.is_empty() {
                        Ok(())
                    } else if failed {
                        writeln!(
                            stderr,
                            "error: could not check: {}",
                            diag::summary(&run.diagnostics)
                        )
                    } else {
                        writeln!(stderr, "warning: {}", diag::summary(&run.diagnostics))
                    }
                })
        }
    };
    if let Err(error) = printed {
        // A closed pipe (`envk check … | head`) is not worth a second error.
        if error.kind() != std::io::ErrorKind::BrokenPipe {
            eprintln!("error: cannot print diagnostics: {error}");
        }
        return Err(ExitCode::from(2));
    }
    if failed {
        print_timings(report, &run.timings);
        Err(ExitCode::from(1))
    } else {
        let mut run = run;
        let model = run.model.take();
        let timings = std::mem::take(&mut run.timings);
        driver::leave_to_exit(run);
        Ok((model, timings))
    }
}

/// `envk diff`: reads or builds both sides, prints what changed.
fn diff(
    paths: &[PathBuf],
    base: Option<&str>,
    format: DiffFormat,
    parts_dir: Option<&std::path::Path>,
    argocd: emit::ArgoCd,
    colour: bool,
) -> ExitCode {
    use envk::diff::{self, Side};
    let sides = match base {
        None => match paths {
            [old, new] => Side::read(old).and_then(|old| Ok((old, Side::read(new)?))),
            _ => {
                eprintln!(
                    "error: `envk diff` takes two build folders, OLD and NEW (or `--base REV` and the program's paths); {} given",
                    paths.len()
                );
                return ExitCode::from(2);
            }
        }
        .map_err(|error| error.to_string()),
        Some(revision) => diff_base(paths, revision, argocd),
    };
    let (old, new) = match sides {
        Ok(sides) => sides,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::from(2);
        }
    };
    let diff = diff::diff(&old, &new);
    let changed = !diff.is_empty();
    let printed = match format {
        DiffFormat::Terminal => print_stdout(&diff::render::terminal(&diff, colour)),
        DiffFormat::Json => print_stdout(&diff::render::json(&diff)),
        DiffFormat::Markdown => {
            let parts = diff::render::markdown(&diff, diff::render::COMMENT_LIMIT);
            match parts_dir {
                None => print_stdout(&parts.join("\n")),
                Some(dir) => write_parts(dir, &parts),
            }
        }
    };
    match (printed == ExitCode::SUCCESS, changed) {
        (false, _) => printed,
        (true, true) => ExitCode::from(1),
        (true, false) => ExitCode::SUCCESS,
    }
}

/// Each part of a comment as DIR/comment-N.md, the folder made if need be.
fn write_parts(dir: &std::path::Path, parts: &[String]) -> ExitCode {
    let written = std::fs::create_dir_all(dir).and_then(|()| {
        parts.iter().enumerate().try_for_each(|(index, part)| {
            std::fs::write(dir.join(format!("comment-{}.md", index + 1)), part)
        })
    });
    match written {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: cannot write to `{}`: {error}", dir.display());
            ExitCode::from(2)
        }
    }
}

/// `envk diff --base REV PATHS`: the program at REV and as it is, each
/// built in memory.
fn diff_base(
    paths: &[PathBuf],
    revision: &str,
    argocd: emit::ArgoCd,
) -> Result<(envk::diff::Side, envk::diff::Side), String> {
    let at_base = envk::diff::git::Revision::read(revision, paths)?;
    let options = emit::Options {
        provenance: false,
        layout: emit::Layout::Tree,
        argocd,
        report: false,
    };
    let build_side = |run: Result<driver::Run, driver::InputError>, what: &str| {
        let run = run.map_err(|error| error.to_string())?;
        if run.has_errors() {
            let mut stderr = StandardStream::stderr(ColorChoice::Auto);
            let _ = diag::render_human(&mut stderr, &run.sources, &run.diagnostics);
            return Err(format!(
                "{what} does not build: {}",
                diag::summary(&run.diagnostics)
            ));
        }
        let model = run.model.as_ref().ok_or(format!("{what} does not build"))?;
        let tree = emit::emit(model, options);
        Ok(envk::diff::Side::of_tree(&tree))
    };
    let old = build_side(
        driver::check_with(&at_base.roots, &at_base.loader),
        &format!("the program at `{revision}`"),
    )?;
    let new = build_side(
        driver::run(paths, Goal::Model, driver::Memory::Free),
        "the program",
    )?;
    Ok((old, new))
}

fn cost(
    paths: &[PathBuf],
    by: &str,
    format: envk::cost::table::Format,
    report: Report,
) -> ExitCode {
    let model = match run_check(paths, Goal::Model, report) {
        Ok((Some(model), _)) => model,
        Ok((None, _)) => return ExitCode::from(1),
        Err(code) => return code,
    };
    let summary = envk::summary::of(&model);
    let text = envk::cost::table::table(&summary, by).render(format);
    print_stdout(&text)
}

/// Prints `text` on stdout; a closed pipe is not an error.
fn print_stdout(text: &str) -> ExitCode {
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) if error.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: cannot print: {error}");
            ExitCode::from(2)
        }
    }
}

fn print_timings(report: Report, timings: &Timings) {
    if report.timings {
        eprint!("timings:\n{timings}");
    }
}

fn build(
    paths: &[PathBuf],
    out: &std::path::Path,
    check_only: bool,
    options: emit::Options,
    forget: &[String],
    report: Report,
) -> ExitCode {
    let (model, mut timings) = match run_check(paths, Goal::Model, report) {
        Ok((Some(model), timings)) => (model, timings),
        Ok((None, _)) => return ExitCode::from(1),
        Err(code) => return code,
    };
    // What builds into this folder deployed: a namespace no longer
    // declared is still in its cluster, and each build says so.
    let mut history = match std::fs::read_to_string(out.join(emit::NAMESPACES_FILE)) {
        Ok(text) => emit::History::parse(&text),
        Err(_) => emit::History::default(),
    };
    let retired = history.retired(&model);
    for forgotten in forget {
        let Some((cluster, namespace)) = forgotten.split_once('/') else {
            eprintln!("error: `--forget {forgotten}`: expected `CLUSTER/NAMESPACE`");
            return ExitCode::from(2);
        };
        let pair = (cluster.to_string(), namespace.to_string());
        if retired.contains(&pair) {
            history.namespaces.remove(&pair);
            continue;
        }
        let declared = model.envs.contains_key(&envk::model::EnvKey {
            name: pair.1.clone(),
            cluster: pair.0.clone(),
        });
        let listed: Vec<String> = retired.iter().map(|(c, n)| format!("{c}/{n}")).collect();
        let why = match declared {
            true => "the program declares it".to_string(),
            false if listed.is_empty() => "no namespace is retired".to_string(),
            false => format!("the retired namespaces are {}", listed.join(", ")),
        };
        eprintln!("error: `--forget {forgotten}`: not a retired namespace of this folder: {why}");
        return ExitCode::from(2);
    }
    for (cluster, namespace) in history.retired(&model) {
        eprintln!(
            "note: namespace `{namespace}` on `{cluster}` is no longer declared; it is still in the cluster (namespaces are never deleted by a build): delete it by hand, then `envk build --forget {cluster}/{namespace}`"
        );
    }
    let tree = timings.phase(Phase::Emit, || emit::emit_after(&model, options, &history));
    if check_only {
        let compared = timings.phase(Phase::Write, || output::compare(&tree, out));
        print_timings(report, &timings);
        return match compared {
            Ok(differences) if differences.is_empty() => ExitCode::SUCCESS,
            Ok(differences) => {
                let mut stdout = std::io::stdout().lock();
                for difference in &differences {
                    let _ = writeln!(stdout, "{difference}");
                }
                let count = differences.len();
                eprintln!(
                    "error: `{}` is not up to date: {count} file{} differ{}; run `envk build` without `--check`",
                    out.display(),
                    if count == 1 { "" } else { "s" },
                    if count == 1 { "s" } else { "" }
                );
                ExitCode::from(1)
            }
            Err(error) => {
                eprintln!("error: {error}");
                ExitCode::from(2)
            }
        };
    }
    let written = timings.phase(Phase::Write, || output::write(&tree, out));
    print_timings(report, &timings);
    let files = tree.files.len();
    driver::leave_to_exit(tree);
    match written {
        Ok(()) => {
            let plural = |n: usize| if n == 1 { "" } else { "s" };
            eprintln!(
                "wrote {} files for {} namespace{} on {} cluster{} to `{}`",
                files + 1,
                model.envs.len(),
                plural(model.envs.len()),
                model.clusters.len(),
                plural(model.clusters.len()),
                out.display()
            );
            driver::leave_to_exit(model);
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::from(2)
        }
    }
}

fn fmt(paths: &[PathBuf], check_only: bool, color: Color) -> ExitCode {
    let inputs = match driver::collect_inputs(paths) {
        Ok(inputs) => inputs,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::from(2);
        }
    };
    let mut sources = envk::source::SourceMap::new();
    let mut unformatted = Vec::new();
    let mut broken = Vec::new();
    for path in &inputs {
        let id = match sources.load(path) {
            Ok(id) => id,
            Err(error) => {
                eprintln!("error: {error}");
                return ExitCode::from(2);
            }
        };
        let file = sources.file(id);
        match envk::syntax::format::format(file) {
            Ok(formatted) if formatted == file.text() => {}
            Ok(formatted) => {
                if check_only {
                    unformatted.push(path.clone());
                } else if let Err(error) = write_in_place(path, &formatted) {
                    eprintln!("error: cannot write `{}`: {error}", path.display());
                    return ExitCode::from(2);
                } else {
                    unformatted.push(path.clone());
                }
            }
            Err(diagnostics) => broken.extend(diagnostics),
        }
    }
    if !broken.is_empty() {
        let mut stderr = StandardStream::stderr(color_choice(color));
        let _ = diag::render_human(&mut stderr, &sources, &broken);
        eprintln!(
            "error: files with syntax errors are left as they are: {}",
            diag::summary(&broken)
        );
        return ExitCode::from(1);
    }
    if check_only && !unformatted.is_empty() {
        for path in &unformatted {
            println!("{}", path.display());
        }
        eprintln!(
            "error: {} file{} not formatted; run `envk fmt`",
            unformatted.len(),
            if unformatted.len() == 1 {
                " is"
            } else {
                "s are"
            }
        );
        return ExitCode::from(1);
    }
    ExitCode::SUCCESS
}

/// Replaces a file's content by renaming a complete new file over it, so an
/// interrupted write never leaves half a file.
fn write_in_place(path: &std::path::Path, content: &str) -> std::io::Result<()> {
    let name = path
        .file_name()
        .map_or("file".into(), |n| n.to_string_lossy().into_owned());
    let temporary = path.with_file_name(format!(".{name}.envk-fmt-{}", std::process::id()));
    std::fs::write(&temporary, content)?;
    if let Ok(metadata) = std::fs::metadata(path) {
        let _ = std::fs::set_permissions(&temporary, metadata.permissions());
    }
    std::fs::rename(&temporary, path).inspect_err(|_| {
        let _ = std::fs::remove_file(&temporary);
    })
}

/// `envk explain`: a diagnostic code's page, or a standard library
/// module's reference (`std/alerts`; `std` alone lists the modules).
fn explain(topic: &str) -> ExitCode {
    if topic == "std" {
        print!("{}", stdlib_doc::index());
        return ExitCode::SUCCESS;
    }
    // A path is a module's, whatever its case (`STD/alerts`): codes have
    // no `/`.
    if topic.contains('/') {
        return match stdlib_doc::module_reference(topic) {
            Some(reference) => {
                print!("{reference}");
                ExitCode::SUCCESS
            }
            None => {
                eprintln!("error: {}", stdlib_doc::unknown_module(topic));
                ExitCode::from(2)
            }
        };
    }
    match Code::parse(topic) {
        Some(code) => {
            print!("{}", code.explanation());
            ExitCode::SUCCESS
        }
        None if stdlib_doc::modules().any(|module| module.strip_prefix("std/") == Some(topic)) => {
            eprintln!(
                "error: `{topic}` is not an envk diagnostic code; did you mean the standard library module `std/{topic}`?"
            );
            ExitCode::from(2)
        }
        None => {
            eprintln!(
                "error: `{topic}` is not an envk diagnostic code; codes look like E0101 (known: {})",
                Code::ALL
                    .iter()
                    .map(|code| code.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            ExitCode::from(2)
        }
    }
}

/// `auto` colours only a terminal that is not `TERM=dumb` and when
/// `NO_COLOR` is unset (termcolor checks the last two).
fn color_choice(color: Color) -> ColorChoice {
    match color {
        Color::Always => ColorChoice::Always,
        Color::Never => ColorChoice::Never,
        Color::Auto if std::io::stderr().is_terminal() => ColorChoice::Auto,
        Color::Auto => ColorChoice::Never,
    }
}
