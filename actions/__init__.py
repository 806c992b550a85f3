"""The action server: thin rasa-sdk actions over the plain modules in xieshang/."""
