//! Subjects: validation, wildcard matching, the subscription index, and
//! the transforms and mappings that rewrite subjects.

pub mod cache;
pub mod mapping;
mod mapping_function;
pub mod match_stats;
pub mod sublist;
pub mod transform;
pub mod validate;

pub use cache::MatchCache;
pub use mapping::{Mapped, Mapping, MappingError, Mappings};
pub use sublist::{MatchResult, QueueGroup, Sublist, SublistError};
pub use transform::{SubjectTransform, TransformError};
pub use validate::{
    is_literal, is_subset_match, is_valid_publish_subject, is_valid_subject, subject_matches,
    subjects_overlap,
};
