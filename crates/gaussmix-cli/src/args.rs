//! Argument types shared by the subcommands: how data is read, and the choice flags as
//! clap [`ValueEnum`]s (so `--help` lists the values, a typo gets a suggestion and exits
//! with the usage status 2).
//!
//! This module depends on nothing else in the crate: every subcommand may use it.

use std::sync::OnceLock;

use clap::builder::PossibleValue;
use clap::{Args, ValueEnum};
use gaussmix::{CovarianceType, InitMethod};

/// How to read a data file.
#[derive(Args, Debug, Clone, Default)]
pub struct DataArgs {
    /// Columns to use, by name or 0-based index, comma-separated (default: every numeric column).
    #[arg(long, value_delimiter = ',')]
    pub columns: Option<Vec<String>>,
    /// Array of an NPZ file holding the data (default `X`).
    #[arg(long)]
    pub array: Option<String>,
}

/// `--covariance`: one of the library's covariance types (the list follows
/// [`CovarianceType::ALL`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Covariance(pub CovarianceType);

impl Covariance {
    /// The library's type.
    pub fn get(self) -> CovarianceType {
        self.0
    }
}

impl From<Covariance> for CovarianceType {
    fn from(c: Covariance) -> CovarianceType {
        c.0
    }
}

fn covariance_help(c: CovarianceType) -> &'static str {
    match c {
        CovarianceType::Full => "VVV: each component its own covariance matrix",
        CovarianceType::Tied => "EEE: one covariance matrix shared by all components",
        CovarianceType::Diag => "VVI: each component a diagonal covariance",
        CovarianceType::Spherical => "VII: each component a single variance",
        CovarianceType::EII => "one variance shared by all components",
        CovarianceType::EEI => "one diagonal covariance shared by all components",
        CovarianceType::VEI => "diagonal, equal shape, variable volume",
        CovarianceType::EVI => "diagonal, equal volume, variable shape",
        CovarianceType::VEE => "equal shape and orientation, variable volume",
        CovarianceType::EVE => "equal volume and orientation, variable shape",
        CovarianceType::VVE => "equal orientation, variable volume and shape",
        CovarianceType::EEV => "equal volume and shape, variable orientation",
        CovarianceType::VEV => "equal shape, variable volume and orientation",
        CovarianceType::EVV => "equal volume, variable shape and orientation",
    }
}

impl ValueEnum for Covariance {
    fn value_variants<'a>() -> &'a [Self] {
        static ALL: OnceLock<Vec<Covariance>> = OnceLock::new();
        ALL.get_or_init(|| CovarianceType::ALL.iter().map(|&c| Covariance(c)).collect())
    }

    fn to_possible_value(&self) -> Option<PossibleValue> {
        let v = PossibleValue::new(self.0.name()).help(covariance_help(self.0));
        // scikit-learn's four also answer to their mclust names
        Some(match self.0 {
            CovarianceType::Diag => v.alias("diagonal").alias("VVI"),
            c if c.is_sklearn() => v.alias(c.mclust_name()),
            _ => v,
        })
    }
}

/// `--init`: how EM starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Init(pub InitMethod);

impl Init {
    /// The library's method.
    pub fn get(self) -> InitMethod {
        self.0
    }
}

impl From<Init> for InitMethod {
    fn from(i: Init) -> InitMethod {
        i.0
    }
}

/// The initialisations, in the order `--help` lists them.
const INITS: [(InitMethod, &str); 5] = [
    (
        InitMethod::KMeans,
        "k-means++ seeds, Lloyd iterations, rows assigned to their cluster",
    ),
    (
        InitMethod::KMeansPlusPlus,
        "k-means++ seed rows, each alone starting a component",
    ),
    (
        InitMethod::Random,
        "random responsibilities, normalised per row",
    ),
    (
        InitMethod::RandomFromData,
        "K distinct random rows, each alone starting a component",
    ),
    (
        InitMethod::Hc,
        "mclust's model-based hierarchical agglomeration on SVD-scaled rows, cut at K",
    ),
];

impl ValueEnum for Init {
    fn value_variants<'a>() -> &'a [Self] {
        static ALL: OnceLock<Vec<Init>> = OnceLock::new();
        ALL.get_or_init(|| INITS.iter().map(|&(m, _)| Init(m)).collect())
    }

    fn to_possible_value(&self) -> Option<PossibleValue> {
        let help = INITS
            .iter()
            .find(|(m, _)| *m == self.0)
            .map_or("", |(_, h)| h);
        let v = PossibleValue::new(self.0.to_string()).help(help);
        Some(match self.0 {
            InitMethod::KMeans => v.alias("k-means"),
            InitMethod::KMeansPlusPlus => v.alias("kmeans++"),
            _ => v,
        })
    }
}

/// What `fit` does about a degenerate component.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Degenerate {
    /// Keep it and print a warning naming it.
    Warn,
    /// Fail, naming it (nothing written).
    Error,
    /// Re-seed it (split the heaviest component) and continue EM.
    Reseed,
    /// Remove it and continue EM with one component fewer.
    Drop,
    /// Keep it silently (scikit-learn's behaviour).
    Keep,
}

impl Degenerate {
    /// The library's policy (`warn` fits as `keep`; the command then checks).
    pub fn policy(self) -> gaussmix::DegeneratePolicy {
        match self {
            Degenerate::Warn | Degenerate::Keep => gaussmix::DegeneratePolicy::Keep,
            Degenerate::Error => gaussmix::DegeneratePolicy::Error,
            Degenerate::Reseed => gaussmix::DegeneratePolicy::Reseed,
            Degenerate::Drop => gaussmix::DegeneratePolicy::Drop,
        }
    }
}

/// `--criterion` of `select`: the information criterion to minimise.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SelectCriterion {
    /// Bayesian information criterion, −2 ln L + p ln N.
    Bic,
    /// Akaike information criterion, −2 ln L + 2p.
    Aic,
    /// mclust's integrated completed likelihood: BIC plus twice the entropy of the hard
    /// classification.
    Icl,
    /// BIC plus twice the entropy of the responsibilities.
    #[value(alias = "icl_soft")]
    IclSoft,
}

impl SelectCriterion {
    /// The library's criterion.
    pub fn get(self) -> gaussmix::select::Criterion {
        use gaussmix::select::Criterion;
        match self {
            SelectCriterion::Bic => Criterion::Bic,
            SelectCriterion::Aic => Criterion::Aic,
            SelectCriterion::Icl => Criterion::Icl,
            SelectCriterion::IclSoft => Criterion::IclSoft,
        }
    }
}

/// The picture formats of `plot`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PictureFormat {
    /// Portable Network Graphics (RGB bitmap).
    Png,
    /// Scalable Vector Graphics.
    Svg,
}

/// `--json`: print the result as one JSON object on standard output instead of prose
/// (flatten into a command's arguments).
#[derive(Args, Debug, Clone, Copy, Default)]
pub struct JsonArg {
    /// Print the result as one JSON object on standard output (notes and warnings still
    /// go to standard error).
    #[arg(long)]
    pub json: bool,
}

/// `--dtype`: the element type the data are computed in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum Dtype {
    /// float64 arithmetic throughout (the default).
    #[default]
    F64,
    /// The data converted once to float32 after reading: the E-step's quadratic forms
    /// and the M-step's Gram products of full and tied models run in float32 lanes
    /// (twice the rows per vector instruction), every statistic and parameter stays f64.
    F32,
}

/// The element type of one command's data (`--dtype`).
#[derive(Args, Debug, Clone, Copy, Default)]
pub struct DtypeArg {
    /// Element type of the arithmetic on the data: f64, or f32 (the data converted once
    /// after reading; full and tied models then run their E-step and Gram products in
    /// float32 lanes, with statistics and parameters in f64; results agree with f64 to
    /// about 1e-5 relative).
    #[arg(long, value_enum, ignore_case = true, default_value = "f64")]
    pub dtype: Dtype,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn value_names_parse_back() {
        for c in Covariance::value_variants() {
            let name = c.to_possible_value().unwrap().get_name().to_string();
            assert_eq!(Covariance::from_str(&name, false).unwrap(), *c);
            assert_eq!(name.parse::<CovarianceType>().unwrap(), c.0);
        }
        assert_eq!(
            Covariance::from_str("diagonal", false).unwrap().0,
            CovarianceType::Diag
        );
        for i in Init::value_variants() {
            let name = i.to_possible_value().unwrap().get_name().to_string();
            assert_eq!(Init::from_str(&name, false).unwrap(), *i);
            assert_eq!(name.parse::<InitMethod>().unwrap(), i.0);
        }
        assert_eq!(
            Init::from_str("kmeans++", false).unwrap().0,
            InitMethod::KMeansPlusPlus
        );
        assert!(Init::from_str("kmean", false).is_err());
        for c in SelectCriterion::value_variants() {
            let name = c.to_possible_value().unwrap().get_name().to_string();
            assert_eq!(
                name.parse::<gaussmix::select::Criterion>().unwrap(),
                c.get()
            );
        }
    }
}
