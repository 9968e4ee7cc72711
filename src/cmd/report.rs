//! `rdbscope report DIR`: re-renders `DIR/report.html` from the analysis
//! output in DIR (`summary.json` and the aggregate tables).

use analyzer::output::html::{load_dir, write_html};

use crate::args::ReportDirArgs;

pub(crate) fn run(a: ReportDirArgs) -> anyhow::Result<()> {
    let view = load_dir(&a.dir)?;
    let path = write_html(&a.dir, &view)?;
    println!("wrote {}", path.display());
    Ok(())
}
