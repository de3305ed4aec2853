//! The organisation-wide documents: `rules`, `calendar` and `tree`, each `show` (at any node) and
//! `publish` (at the city only). Published documents reach every node with the next sync.

use std::path::PathBuf;

use anyhow::{Context, Result};
use chrono::NaiveDate;
use clap::Subcommand;
use rollmesh_engine::msg;
use serde_json::json;

use super::ledger::clerk_date;
use super::DataDir;
use crate::render::print_json;

#[derive(Subcommand, Debug)]
pub enum OrgDocCmd {
    /// Xem bản đang có hiệu lực (show the version in force; `--toml` prints it as a file to edit).
    Show {
        /// Ngày, DD/MM/YYYY (rules: the version in force that day; default: today).
        #[arg(long, value_parser = clerk_date)]
        as_of: Option<NaiveDate>,
        /// In ra dạng TOML để sửa rồi ban hành (print the TOML text).
        #[arg(long)]
        toml: bool,
        #[command(flatten)]
        data: DataDir,
    },
    /// Ban hành từ tệp TOML; chỉ nút thành phố (publish from a TOML file; the city node only).
    Publish {
        /// Tệp TOML.
        file: PathBuf,
        #[command(flatten)]
        data: DataDir,
    },
}

/// Runs `rules|calendar|tree …`; `what` names the document.
pub(super) fn run(what: &str, cmd: OrgDocCmd, json: bool) -> Result<u8> {
    match cmd {
        OrgDocCmd::Publish { file, data } => {
            let text =
                std::fs::read_to_string(&file).with_context(|| file.display().to_string())?;
            let v = crate::ops::call(
                &data.data,
                json!({"cmd": "org.publish", "what": what, "text": text}),
            )?;
            if json {
                print_json(&v);
                return Ok(0);
            }
            let line = match (v["changed"].as_bool(), v["effective"].as_str()) {
                (Some(false), _) => msg!(
                    "Bản này đã được ban hành; không thay đổi gì.",
                    "This version was already published; nothing changed."
                ),
                (_, Some(e)) => {
                    let e = NaiveDate::parse_from_str(e, "%Y-%m-%d")
                        .map(|d| d.format("%d/%m/%Y").to_string())
                        .unwrap_or_default();
                    msg!(
                        "Đã ban hành bộ quy tắc có hiệu lực từ {e}; các nút nhận được ở lần đồng bộ tới.",
                        "Published the rule set in force from {e}; every node gets it with its next sync."
                    )
                }
                _ => msg!(
                    "Đã ban hành; các nút nhận được ở lần đồng bộ tới.",
                    "Published; every node gets it with its next sync."
                ),
            };
            println!("{line}");
            Ok(0)
        }
        OrgDocCmd::Show { as_of, toml, data } => {
            let mut req = json!({"cmd": "org.show", "what": what});
            if let Some(d) = as_of {
                req["as_of"] = json!(d.to_string());
            }
            let Some(v) = super::ledger::request(&data, req, json)? else {
                return Ok(0);
            };
            if toml {
                print!("{}", v["toml"].as_str().unwrap_or(""));
                return Ok(0);
            }
            match what {
                "rules" => {
                    let source = match v["published_effective"].as_str() {
                        Some(e) => {
                            let e = NaiveDate::parse_from_str(e, "%Y-%m-%d")
                                .map(|d| d.format("%d/%m/%Y").to_string())
                                .unwrap_or_default();
                            msg!(
                                "bộ quy tắc thành phố ban hành, hiệu lực từ {e}",
                                "the city's rule set, in force from {e}"
                            )
                        }
                        None => msg!(
                            "bộ quy tắc mặc định (thành phố chưa ban hành)",
                            "the default rule set (the city has published none)"
                        ),
                    };
                    println!("{}", msg!("Đang áp dụng: {source}.", "In force: {source}."));
                    let r = &v["rules"];
                    for (rule, key, what_vi, what_en) in [
                        (
                            "R1",
                            "months",
                            "tháng không đóng đảng phí trong năm",
                            "unpaid months in a year",
                        ),
                        (
                            "R2",
                            "months",
                            "tháng vắng sinh hoạt không lý do trong năm",
                            "months absent without reason in a year",
                        ),
                        (
                            "R4",
                            "months",
                            "tháng trong danh sách giúp đỡ không tiến bộ",
                            "months on the help list without progress",
                        ),
                        (
                            "R6",
                            "years",
                            "năm liền không hoàn thành nhiệm vụ",
                            "years running not completed",
                        ),
                        (
                            "R11",
                            "months",
                            "tháng chi bộ không sinh hoạt thường kỳ (và quý không có chuyên đề)",
                            "months a cell held no regular meeting (and quarters no thematic one)",
                        ),
                        (
                            "R14",
                            "",
                            "ở khác phường của chi bộ mà chưa chuyển sinh hoạt",
                            "lives in another ward than the cell's, not transferred",
                        ),
                    ] {
                        let k = rule.to_ascii_lowercase();
                        let n = if key.is_empty() {
                            String::new()
                        } else {
                            r[&k][key].to_string()
                        };
                        let on = if r[&k]["enabled"].as_bool() == Some(false) {
                            msg!(" (tắt)", " (off)")
                        } else {
                            String::new()
                        };
                        println!("  {rule:<4} {n} {}{on}", msg!("{what_vi}", "{what_en}"));
                    }
                }
                "calendar" => {
                    let days = v["calendar"]["holidays"]
                        .as_array()
                        .cloned()
                        .unwrap_or_default();
                    let n = days.len();
                    println!(
                        "{}",
                        msg!(
                            "Lịch nghỉ: {n} ngày nghỉ lễ.",
                            "Calendar: {n} public holidays."
                        )
                    );
                }
                _ => {
                    if v["published"].as_bool() == Some(true) {
                        let text = v["toml"].as_str().unwrap_or("");
                        match rollmesh_model::OrgTree::from_toml(text) {
                            Ok(t) => {
                                let (name, n) = (&t.name, t.units().count());
                                println!(
                                    "{}",
                                    msg!(
                                        "Cây tổ chức: {name}, {n} đơn vị (--toml để xem toàn bộ).",
                                        "Organisation tree: {name}, {n} units (--toml for all of it)."
                                    )
                                );
                                for u in t.units().filter(|u| u.path.depth() <= 1) {
                                    println!("  {:<16} {}", u.path, u.name);
                                }
                            }
                            Err(_) => print!("{text}"),
                        }
                    } else {
                        println!(
                            "{}",
                            msg!(
                                "Thành phố chưa ban hành cây tổ chức.",
                                "The city has published no organisation tree."
                            )
                        );
                    }
                }
            }
            Ok(0)
        }
    }
}
