"""Pure planning: NeuronCore Group sizing, node capacity, the validation rules, and loading a config file."""
