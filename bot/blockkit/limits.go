package blockkit

// Slack's limits, in characters (Unicode code points) or items. Sources,
// all under https://docs.slack.dev/reference:
//
//	block-kit/blocks                        50 blocks per message, 100 per modal or Home tab
//	block-kit/blocks/section-block          text 1-3000; fields at most 10, each at most 2000
//	block-kit/blocks/header-block           text at most 150
//	block-kit/blocks/context-block          elements at most 10
//	block-kit/blocks/actions-block          elements at most 25
//	block-kit/blocks/input-block            label and hint at most 2000
//	block-kit/composition-objects/text-object          text 1-3000
//	block-kit/composition-objects/option-object        text 75, value 150, description 75
//	block-kit/block-elements/button-element            text 75, value 2000, url 3000, action_id 255
//	block-kit/block-elements/select-menu-element       options or option_groups at most 100, placeholder 150
//	block-kit/block-elements/checkboxes-element        options at most 10
//	block-kit/block-elements/plain-text-input-element  placeholder 150, max_length at most 3000
//	views/modal-views                       title, submit, close at most 24; 100 blocks;
//	                                        private_metadata 3000; callback_id 255
//	methods/chat.postMessage                text: Slack truncates past 40,000 characters
//	                                        (msg_too_long)
//
// block_id (every block) and action_id (every element) are at most 255;
// a block_id is unique in its message or view, an action_id in its block.
const (
	MaxMessageBlocks = 50
	MaxViewBlocks    = 100

	MaxSectionText   = 3000
	MaxSectionFields = 10
	MaxFieldText     = 2000
	MaxHeaderText    = 150
	MaxTextObject    = 3000

	MaxContextElements = 10
	MaxActionsElements = 25

	MaxButtonText  = 75
	MaxButtonValue = 2000
	MaxURL         = 3000

	MaxOptionText        = 75
	MaxOptionValue       = 150
	MaxOptionDescription = 75
	MaxSelectOptions     = 100
	MaxCheckboxOptions   = 10
	MaxPlaceholder       = 150
	MaxInputLength       = 3000

	MaxLabel = 2000
	MaxHint  = 2000
	MaxAlt   = 2000

	MaxID = 255

	MaxViewTitle       = 24
	MaxViewButton      = 24
	MaxPrivateMetadata = 3000

	MaxMessageText = 40000
)

// MaxBlocksText is the most text, summed over every text of a message's
// blocks, that chat.postMessage and chat.update take; past it they answer
// msg_blocks_too_long. Slack does not document it: its SDK maintainers
// give "12,000 text characters with a buffer for block containers"
// (github.com/slackapi/bolt-js issues 2509 and 2867, where messages a
// little under 12,000 were refused too). The bot keeps well under it.
const MaxBlocksText = 12000
