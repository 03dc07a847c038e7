//! The ten registry articles of spec §5: their wire names, plurals, key fields and entities.
//! Naming only; record contents live in `records`.

use crate::status::Entity;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Article {
    Node,
    NodeType,
    Bearer,
    PlatformType,
    Platform,
    ServiceType,
    SystemType,
    System,
    UserType,
    User,
}

impl Article {
    pub const ALL: [Article; 10] = [
        Article::Node,
        Article::NodeType,
        Article::Bearer,
        Article::PlatformType,
        Article::Platform,
        Article::ServiceType,
        Article::SystemType,
        Article::System,
        Article::UserType,
        Article::User,
    ];

    /// The article as written after `register:` / `deregister:`, and in the store.
    pub fn name(self) -> &'static str {
        match self {
            Article::Node => "node",
            Article::NodeType => "node-type",
            Article::Bearer => "bearer",
            Article::PlatformType => "platform-type",
            Article::Platform => "platform",
            Article::ServiceType => "service-type",
            Article::SystemType => "system-type",
            Article::System => "system",
            Article::UserType => "user-type",
            Article::User => "user",
        }
    }

    /// The plural as written after `query:` and as the result member name.
    pub fn plural(self) -> &'static str {
        match self {
            Article::Node => "nodes",
            Article::NodeType => "node-types",
            Article::Bearer => "bearers",
            Article::PlatformType => "platform-types",
            Article::Platform => "platforms",
            Article::ServiceType => "service-types",
            Article::SystemType => "system-types",
            Article::System => "systems",
            Article::UserType => "user-types",
            Article::User => "users",
        }
    }

    /// Human wording for status messages ("platform type").
    pub fn label(self) -> &'static str {
        match self {
            Article::Node => "node",
            Article::NodeType => "node type",
            Article::Bearer => "bearer",
            Article::PlatformType => "platform type",
            Article::Platform => "platform",
            Article::ServiceType => "service type",
            Article::SystemType => "system type",
            Article::System => "system",
            Article::UserType => "user type",
            Article::User => "user",
        }
    }

    /// `type` for the `*-type` articles, `id` for the others.
    pub fn key_field(self) -> &'static str {
        match self {
            Article::NodeType
            | Article::PlatformType
            | Article::ServiceType
            | Article::SystemType
            | Article::UserType => "type",
            Article::Node
            | Article::Bearer
            | Article::Platform
            | Article::System
            | Article::User => "id",
        }
    }

    pub fn entity(self) -> Entity {
        match self {
            Article::Node => Entity::Node,
            Article::NodeType => Entity::NodeType,
            Article::Bearer => Entity::Bearer,
            Article::PlatformType => Entity::PlatformType,
            Article::Platform => Entity::Platform,
            Article::ServiceType => Entity::ServiceType,
            Article::SystemType => Entity::SystemType,
            Article::System => Entity::System,
            Article::UserType => Entity::UserType,
            Article::User => Entity::User,
        }
    }

    /// Position in [`Article::ALL`], used to index per-article tables.
    pub fn index(self) -> usize {
        self as usize
    }

    pub fn from_name(name: &str) -> Option<Article> {
        Article::ALL
            .into_iter()
            .find(|article| article.name() == name)
    }

    pub fn from_plural(plural: &str) -> Option<Article> {
        Article::ALL
            .into_iter()
            .find(|article| article.plural() == plural)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_index_matches_position() {
        for (position, article) in Article::ALL.into_iter().enumerate() {
            assert_eq!(article.index(), position);
            assert_eq!(Article::from_name(article.name()), Some(article));
            assert_eq!(Article::from_plural(article.plural()), Some(article));
        }
        assert_eq!(Article::from_name("nodes"), None);
        assert_eq!(Article::from_plural("node"), None);
    }
}
